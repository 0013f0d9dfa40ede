"""The demo staff user submits feedback on their district's prediction in a real browser."""

import os

import pytest
from django.core.management import call_command

from feedback.models import Feedback
from tests.browser import sign_in
from tests.conftest import shared_peru_dir
from tests.scenario import register_model, scored_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_demo_staff_user_sends_feedback_in_the_browser(browser, live_server, monkeypatch):
    call_command("load_peru", source=shared_peru_dir(), stdout=open(os.devnull, "w"))  # noqa: SIM115
    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-123")
    call_command("demo_users", stdout=open(os.devnull, "w"))  # noqa: SIM115
    scored_run(register_model())
    page = browser.new_page()
    sign_in(page, live_server.url, "staff", "demo-password-123")
    page.click("#main-menu a[data-menu=feedback]")
    with page.expect_navigation():
        page.click("[data-testid=feedback-prediction]")
    page.select_option("select[name=agrees]", "false")
    page.fill("input[name=observed_value]", "47.5")
    page.fill("input[name=observed_source]", "Evaluación de entrada 2026, IE 50001")
    page.fill("textarea[name=comment]", "Los resultados de comprensión lectora mejoraron este año.")
    with page.expect_navigation():
        page.click("[data-testid=feedback-form] button[type=submit]")
    assert "Gracias" in page.locator(".messages").inner_text()
    feedback = Feedback.objects.get()
    assert (feedback.author.username, feedback.ubigeo, feedback.observed_value) == ("staff", "080101", 47.5)
    assert "Nuevo" in page.locator("[data-testid=feedback-list]").inner_text()  # waiting for the analysts
