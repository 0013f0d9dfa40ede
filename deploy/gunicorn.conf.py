"""Gunicorn settings shared by `make run`, the container and Kubernetes.

Prometheus: gunicorn serves from several worker processes and a scrape reaches only one of them, so the
counters of every process are kept in files under `PROMETHEUS_MULTIPROC_DIR` (prometheus_client's multiprocess
mode) and `/metrics` adds them up (core/metrics.py). The folder must be empty when the server starts (files left
by an earlier server would be counted again) and private to this server, so when it is not set, each server makes
its own under the temporary folder.
"""

import os
import shutil
import tempfile
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# No `gunicornc` control socket: it lives at one path per user ($HOME/.gunicorn), which two servers on one machine
# would share, and a read-only container root cannot hold.
control_socket_disable = True
# Heartbeat files of the workers in memory, not on the container's (possibly read-only) disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

# Set before any worker is forked (and before prometheus_client is imported anywhere), so every worker inherits it.
_OWN_MULTIPROC_DIR = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _OWN_MULTIPROC_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="eduplatform-prometheus-")
MULTIPROC_DIR = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])


def on_starting(server):
    """Empty the metrics folder: counters of a previous server would otherwise be added to this one's."""
    MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
    for path in MULTIPROC_DIR.glob("*.db"):
        path.unlink(missing_ok=True)


def post_worker_init(worker):
    """Count live web worker processes (`eduplatform_web_workers`, summed over the live ones)."""
    from prometheus_client import Gauge

    Gauge("eduplatform_web_workers", "Live gunicorn worker processes of this server.", multiprocess_mode="livesum").set(
        1
    )


def child_exit(server, worker):
    """A dead worker's live gauges must stop counting; its counters stay, so totals never go back."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(MULTIPROC_DIR))


def on_exit(server):
    if _OWN_MULTIPROC_DIR:
        shutil.rmtree(MULTIPROC_DIR, ignore_errors=True)
