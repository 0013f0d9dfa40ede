import os
import secrets
import subprocess
import sys

import pytest
from django.core.management import call_command

from tests.conftest import REPO


def test_openapi_schema_is_valid_and_complete(tmp_path):
    """drf-spectacular validates the schema and fails on any warning (an endpoint it cannot describe)."""
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for route in ["/api/v1/auth/token/", "/api/v1/me/", "/api/v1/users/", "/api/v1/jobs/{id}/"]:
        assert f"{route}:" in text


@pytest.mark.django_db
def test_schema_and_docs_are_served_offline(client):
    assert client.get("/api/schema/").status_code == 200
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower() and "https://" not in page


def test_deploy_check_is_clean_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_urlsafe(60),
        "DEBUG": "0",
        "HTTPS": "1",
        "ALLOWED_HOSTS": "plataforma.minedu.example",
        "VAR_DIR": str(tmp_path),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
