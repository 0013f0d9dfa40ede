"""Headless Chromium (Debian's package) signs in as each demo user and sees the right menu."""

import os
import shutil

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
EXPECTED_MENU = {
    "admin": {"home", "areas", "datasets", "feature_tables", "users", "audit"},
    "analyst": {"home", "areas", "datasets", "feature_tables"},
    "policymaker": {"home", "areas"},
    "staff": {"home", "areas"},
}


@pytest.fixture
def browser(monkeypatch):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("REQUIRE_BROWSER is set but Chromium is not installed")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop in this thread
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


def sign_in(page, base_url, username, password):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_each_demo_user_signs_in_and_sees_their_menu(browser, live_server, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-123")
    call_command("demo_users")
    for username, expected in EXPECTED_MENU.items():
        context = browser.new_context(locale="es-PE")
        page = context.new_page()
        sign_in(page, live_server.url, username, "demo-password-123")
        keys = set(page.locator("#main-menu a").evaluate_all("els => els.map(e => e.dataset.menu)"))
        assert keys == expected, username
        assert page.locator("html").get_attribute("lang") == "es-pe"
        assert page.get_by_text("Cerrar sesión").is_visible()
        context.close()


def test_wrong_password_in_the_browser_shows_the_generic_message(browser, live_server):
    call_command("demo_users")
    page = browser.new_page()
    sign_in(page, live_server.url, "analyst", "wrong-password")
    assert page.get_by_role("alert").inner_text().startswith("No se pudo iniciar sesión")
    page.close()


def test_switching_to_english(browser, live_server):
    page = browser.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.select_option("select[name=language]", "en")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Sign in"
    page.close()
