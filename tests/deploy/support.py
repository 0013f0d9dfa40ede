"""Real processes for the monitoring tests: a private Redis, gunicorn, the Celery exporter and Prometheus.

Each runs from the binaries a deployment uses (Debian's `prometheus`, `promtool` and `redis-server`, the venv's
gunicorn) on free ports of 127.0.0.1, logs to a file under the test's tmp_path, and is stopped by its own process
group id when the test ends.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import REPO, TEST_QUEUE
from tests.workers import test_database_url

DEPLOY = REPO / "deploy"


def require_binary(name: str) -> str:
    """The path of a Debian binary the tests need: skipped where it is missing, unless CI says it must be there."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path:
        return path
    if os.environ.get("REQUIRE_PROMETHEUS"):
        pytest.fail(f"{name} is missing and REQUIRE_PROMETHEUS is set (.ci/run installs it)")
    pytest.skip(f"{name} is not installed (apt-get install prometheus redis-server)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, timeout: float = 10, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def http_post(url: str, fields: dict, files: dict | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    """POST a multipart form (files: {field: (filename, bytes)})."""
    boundary = uuid.uuid4().hex
    body = bytearray()
    for name, value in fields.items():
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    for name, (filename, content) in (files or {}).items():
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        body += content + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        url,
        data=bytes(body),
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until(predicate, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Service:
    """A subprocess in its own process group, with its output in a log file."""

    name = "service"

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.log_path = tmp_path / f"{self.name}.log"
        self.process: subprocess.Popen | None = None

    def popen(self, args: list[str], env: dict | None = None, cwd: Path = REPO) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log()[-5000:]}")

    def wait_http(self, url: str, timeout: float = 60) -> None:
        def answers():
            self.check_alive()
            try:
                # A long timeout: a request given up on while the server boots would still be counted later.
                return http_get(url, timeout=30)[0] == 200
            except OSError:
                return False

        try:
            wait_until(answers, timeout, f"{self.name} at {url}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.log()[-5000:]}") from None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


class RedisServer(Service):
    """A Redis of the test's own: the tests may refuse its clients for a moment without touching anyone's data."""

    name = "redis"

    def start(self) -> "RedisServer":
        self.port = free_port()
        binary = require_binary("redis-server")
        self.popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + ["--dir", str(self.tmp_path), "--maxmemory-policy", "noeviction"]
        )
        wait_until(self.answers, 20, "redis to answer")
        return self

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cli(self, *args: str) -> str:
        binary = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        result = subprocess.run(
            [binary, "-p", str(self.port), *args], capture_output=True, text=True, timeout=10, check=False
        )
        return result.stdout.strip()

    def answers(self) -> bool:
        self.check_alive()
        with socket.socket() as sock:
            sock.settimeout(1)
            try:
                sock.connect(("127.0.0.1", self.port))
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
            except OSError:
                return False


def platform_env(redis_url: str, **extra) -> dict:
    """The environment of a platform process on the test database and the test's Redis and queue."""
    return {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": redis_url,
        "CELERY_QUEUE": TEST_QUEUE,
        "DJANGO_SETTINGS_MODULE": "eduplatform.settings",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "MODEL_ARTIFACT_DIR": str(settings.MODEL_ARTIFACT_DIR),
        "SECRET_KEY": "monitoring-tests-" + "x" * 40,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        **extra,
    }


class Gunicorn(Service):
    """The platform's web server as deployed: gunicorn with deploy/gunicorn.conf.py and several workers."""

    name = "gunicorn"

    def start(self, redis_url: str, workers: int = 2) -> "Gunicorn":
        self.port = free_port()
        self.multiproc_dir = self.tmp_path / "prometheus-multiproc"
        env = platform_env(
            redis_url, PROMETHEUS_MULTIPROC_DIR=str(self.multiproc_dir), VAR_DIR=str(self.tmp_path / "var")
        )
        self.popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "eduplatform.wsgi:application",
                "--config",
                str(DEPLOY / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                # pid of the worker that answered, to see that several did
                "--access-logformat",
                'access pid=%(p)s "%(r)s" %(s)s',
            ],
            env=env,
        )
        self.wait_http(self.url("/healthz"), timeout=90)
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def worker_pids(self) -> set[int]:
        """Pids of the live gunicorn workers (children of the master)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return {int(pid) for pid in children.read_text().split()} if children.exists() else set()

    def answering_pids(self, path: str) -> set[str]:
        return {
            line.split("pid=", 1)[1].split()[0]
            for line in self.log().splitlines()
            if "access pid=" in line and f" {path} " in line
        }


class CeleryExporter(Service):
    name = "celery-metrics"

    def start(self, redis_url: str) -> "CeleryExporter":
        self.port = free_port()
        self.popen(
            [sys.executable, "manage.py", "celery_metrics", "--port", str(self.port), "--addr", "127.0.0.1"]
            + ["--retry-seconds", "1"],
            env=platform_env(redis_url, VAR_DIR=str(self.tmp_path / "var")),
        )
        self.wait_http(f"http://127.0.0.1:{self.port}/metrics", timeout=60)
        return self


class Prometheus(Service):
    """Debian's Prometheus, scraping every second, with deploy/prometheus/alerts.yml loaded."""

    name = "prometheus"

    def __init__(self, tmp_path: Path):
        super().__init__(tmp_path)
        self.port = free_port()  # known before start: the configuration scrapes Prometheus itself

    def start(self, config: dict) -> "Prometheus":
        binary = require_binary("prometheus")
        config_path = self.tmp_path / "prometheus.yml"
        config_path.write_text(json.dumps(config))  # JSON is YAML
        self.popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={self.tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
            ]
        )
        self.wait_http(f"{self.base}/-/ready", timeout=60)
        return self

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str, **params) -> dict:
        status, body = http_get(f"{self.base}/api/v1/{path}?{urllib.parse.urlencode(params)}", timeout=10)
        payload = json.loads(body)
        assert status == 200 and payload["status"] == "success", (path, params, payload)
        return payload["data"]

    def query(self, expr: str) -> list[tuple[dict, float]]:
        """Samples of an instant query: [(labels, value)]; a scalar is one sample with no labels."""
        data = self.api("query", query=expr)
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        if data["resultType"] != "vector":
            raise AssertionError(f"{expr}: unexpected {data['resultType']}")
        return [(item["metric"], float(item["value"][1])) for item in data["result"]]

    def value(self, expr: str) -> float | None:
        samples = self.query(expr)
        return samples[0][1] if samples else None
