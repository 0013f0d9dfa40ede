"""Headless Chromium (Debian's package) signs in as each demo user and sees the right menu."""

import pytest
from django.core.management import call_command

from tests.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXPECTED_MENU = {
    "admin": {
        "home",
        "areas",
        "datasets",
        "feature_tables",
        "models",
        "map",
        "predictions",
        "plans",
        "review",
        "interventions",
        "feedback",
        "users",
        "audit",
        "me",
    },
    "analyst": {
        "home",
        "areas",
        "datasets",
        "feature_tables",
        "models",
        "map",
        "predictions",
        "plans",
        "interventions",
        "feedback",
        "me",
    },
    "policymaker": {"home", "areas", "map", "predictions", "plans", "review", "interventions", "feedback", "me"},
    "staff": {"home", "areas", "map", "predictions", "feedback", "me"},
}


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
    with page.expect_navigation():
        page.select_option("select[name=language]", "en")
    assert page.locator("h1").inner_text() == "Sign in"
    page.close()
