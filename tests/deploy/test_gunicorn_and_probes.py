"""deploy/gunicorn.conf.py's multiprocess hooks and deploy/probe.py, run for real on files and sockets."""

import http.server
import os
import runpy
import subprocess
import sys
import threading
import time

import pytest

from tests.deploy.support import DEPLOY, REPO


def load_gunicorn_conf(monkeypatch, multiproc_dir=None) -> dict:
    # Empty counts as unset; monkeypatch restores the variable after the test, whatever the configuration sets.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "" if multiproc_dir is None else str(multiproc_dir))
    return runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))


class FakeWorker:
    """What gunicorn hands its hooks: only the pid is read."""

    def __init__(self, pid):
        self.pid = pid


def test_server_start_empties_the_metrics_folder(monkeypatch, tmp_path):
    folder = tmp_path / "multiproc"
    folder.mkdir()
    for name in ("counter_101.db", "histogram_101.db", "gauge_livesum_101.db"):
        (folder / name).write_bytes(b"stale")
    conf = load_gunicorn_conf(monkeypatch, folder)
    conf["on_starting"](None)
    assert list(folder.iterdir()) == []


def test_without_a_folder_each_server_gets_its_own_and_removes_it(monkeypatch):
    conf = load_gunicorn_conf(monkeypatch)
    folder = conf["MULTIPROC_DIR"]
    other = load_gunicorn_conf(monkeypatch)  # a second server on the same machine
    try:
        assert folder.is_dir() and other["MULTIPROC_DIR"].is_dir()
        assert other["MULTIPROC_DIR"] != folder  # never shared: each server empties its own at start
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(other["MULTIPROC_DIR"])
    finally:
        conf["on_exit"](None)
        other["on_exit"](None)
    assert not folder.exists() and not other["MULTIPROC_DIR"].exists()


def test_a_dead_worker_stops_counting_in_live_gauges_but_keeps_its_counters(monkeypatch, tmp_path):
    """child_exit runs prometheus_client's bookkeeping on files a real worker process wrote."""
    folder = tmp_path / "multiproc"
    folder.mkdir()
    conf = load_gunicorn_conf(monkeypatch, folder)
    script = (
        "from prometheus_client import Counter, Gauge\n"
        "Gauge('eduplatform_web_workers', 'w', multiprocess_mode='livesum').set(1)\n"
        "Counter('served', 's').inc(3)\n"
        "import os; print(os.getpid())\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    pid = int(
        subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    )
    assert {p.name for p in folder.iterdir()} == {f"gauge_livesum_{pid}.db", f"counter_{pid}.db"}
    conf["child_exit"](None, FakeWorker(pid))
    assert {p.name for p in folder.iterdir()} == {f"counter_{pid}.db"}


def probe(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(DEPLOY / "probe.py"), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.fixture
def http_server():
    """A plain HTTP server answering 200 on /ok and 503 elsewhere."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(200 if self.path == "/ok" else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_probe(http_server):
    assert probe("http", f"{http_server}/ok").returncode == 0
    failed = probe("http", f"{http_server}/readyz")
    assert failed.returncode == 1 and "HTTP 503" in failed.stderr
    closed = probe("http", "http://127.0.0.1:1/healthz", "--timeout", "2")
    assert closed.returncode == 1 and "unhealthy" in closed.stderr


@pytest.mark.parametrize("suffix", ["", ".db", ".dat"])
def test_beat_probe_wants_a_recently_written_schedule(tmp_path, suffix):
    schedule = tmp_path / "celerybeat-schedule"
    assert probe("beat", str(schedule)).returncode == 1  # beat never wrote it
    path = tmp_path / f"celerybeat-schedule{suffix}"
    path.write_bytes(b"shelve")
    assert probe("beat", str(schedule), "--max-age", "600").returncode == 0
    old = time.time() - 3600
    os.utime(path, (old, old))
    stale = probe("beat", str(schedule), "--max-age", "600")
    assert stale.returncode == 1 and "not written" in stale.stderr
