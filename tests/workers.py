"""A real Celery worker process for integration tests, on the test database and the configured broker."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import REPO, TEST_QUEUE


def test_database_url() -> str:
    s = connection.settings_dict
    if "sqlite" in s["ENGINE"]:
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgresql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Worker:
    def __init__(self, log_path: Path, extra_env: dict | None = None, concurrency: int = 1):
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "CELERY_QUEUE": TEST_QUEUE,
            "DJANGO_SETTINGS_MODULE": "eduplatform.settings",
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "MODEL_ARTIFACT_DIR": str(settings.MODEL_ARTIFACT_DIR),
            **(extra_env or {}),
        }
        self.concurrency = concurrency
        self.process = None

    def start(self, timeout: float = 90) -> "Worker":
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "eduplatform",
                "worker",
                "-Q",
                TEST_QUEUE,
                "--loglevel",
                "INFO",
                "--concurrency",
                str(self.concurrency),
                "--without-mingle",
                "--without-gossip",
                "-n",
                f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
            ],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.log()}")
            if " ready." in self.log():
                return self
            time.sleep(0.3)
        raise RuntimeError(f"worker not ready in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once, as a crash or an OOM kill would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_for(predicate, timeout: float = 120, interval: float = 0.3, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def start_worker(tmp_path):
    """Start real workers on the test database and broker (stopped after the test); each call starts one more."""
    from eduplatform.celery import app as celery_app

    celery_app.conf.task_always_eager = False
    started = []

    def start(stale_seconds: int = 4, **extra_env) -> Worker:
        env = {"JOB_STALE_SECONDS": str(stale_seconds), **extra_env}
        worker = Worker(tmp_path / f"worker{len(started)}.log", extra_env=env).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
