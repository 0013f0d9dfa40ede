"""An analyst uploads a file on the page, watches the progress bar, and the real worker accepts it."""

import pytest

from accounts.models import Role
from datasets.models import Dataset
from datasets.services.uploads import dataset_create
from eduplatform.celery import app as celery_app
from tests.browser import sign_in
from tests.workers import Worker

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_upload_page_shows_progress_then_the_new_version(
    browser, live_server, peru_districts, make_user, password, tmp_path
):
    celery_app.conf.task_always_eager = False
    worker = Worker(tmp_path / "worker.log")
    try:
        analyst = make_user("ana_browser", Role.ANALYST, "PE")
        dataset_create(user=analyst, name="Conectividad", kind=Dataset.Kind.DISTRICT_INDICATORS)
        csv_file = tmp_path / "conectividad.csv"
        csv_file.write_text("ubigeo;internet\n80101;35,5\n080102;12\n", encoding="utf-8")
        page = browser.new_page()
        sign_in(page, live_server.url, "ana_browser", password)
        page.goto(f"{live_server.url}/datasets/conectividad/")
        page.set_input_files("input[name=file]", str(csv_file))
        with page.expect_navigation():
            page.click("[data-testid=upload-form] button[type=submit]")
        # The worker starts only now, so the job is still queued: a quick one would otherwise finish and reload the
        # page while the progress bar is looked for.
        assert page.locator("[data-testid=job-progress] progress").count() == 1
        worker.start()
        page.wait_for_selector("[data-testid=version-link]", timeout=90_000)
        assert "Conectividad v1" in page.locator("[data-testid=version-link]").inner_text()
        assert "1 ubigeos habían perdido el cero inicial" in page.locator("[data-testid=repairs]").inner_text()
    finally:
        worker.stop()
