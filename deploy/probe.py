"""Health probes for the containers (Dockerfile HEALTHCHECK, docker-compose healthchecks, Kubernetes probes).

    python deploy/probe.py http http://127.0.0.1:8000/healthz   # the web server answers 2xx
    python deploy/probe.py worker                                # this container's Celery worker answers a ping
    python deploy/probe.py beat /tmp/celerybeat-schedule         # beat wrote its schedule recently

Exit status 0 is healthy, 1 is not. One small script instead of shell one-liners, so the probes are the same
everywhere and tested (tests/deploy/).

Why these checks: the web server's liveness is /healthz (the process answers; /readyz, which also checks the
database and the broker, is for readiness: a database outage must not restart every web pod). A Celery worker
has no HTTP port: it answers a `ping` broadcast through the broker, addressed to its own node name, which proves
its main loop consumes messages. Beat has neither; while it runs it saves its schedule file (a shelve holding
each entry's last run: the reaper runs every minute) at least every 3 minutes, so a file untouched for 10 minutes
means a stuck or dead beat.
"""

import argparse
import glob
import os
import socket
import sys
import time
import urllib.error
import urllib.request


def probe_http(url: str, timeout: float) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - a URL we were given
            if 200 <= response.status < 300:
                return None
            return f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"


def probe_worker(name: str, timeout: float) -> str | None:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eduplatform.settings")
    from eduplatform.celery import app

    try:
        replies = app.control.ping(destination=[name], timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - the broker is unreachable: the worker cannot work either
        return f"{type(exc).__name__}: {exc}"
    if any(name in reply for reply in replies):
        return None
    return f"no pong from {name}"


def probe_beat(schedule: str, max_age: float) -> str | None:
    # The schedule is a shelve: depending on the dbm module the file has a suffix (.db, .dat) or none.
    paths = glob.glob(glob.escape(schedule) + "*")
    if not paths:
        return f"no schedule file {schedule}*"
    age = time.time() - max(os.path.getmtime(path) for path in paths)
    if age > max_age:
        return f"schedule not written for {age:.0f}s (limit {max_age:.0f}s)"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    http = commands.add_parser("http", help="GET a URL, healthy on 2xx")
    http.add_argument("url")
    http.add_argument("--timeout", type=float, default=5.0)
    worker = commands.add_parser("worker", help="ping this container's Celery worker")
    worker.add_argument("--name", default=f"celery@{socket.gethostname()}", help="node name (default: celery@host)")
    worker.add_argument("--timeout", type=float, default=10.0)
    beat = commands.add_parser("beat", help="beat's schedule file was written recently")
    beat.add_argument("schedule")
    beat.add_argument("--max-age", type=float, default=600.0, help="seconds")
    args = parser.parse_args(argv)

    if args.command == "http":
        problem = probe_http(args.url, args.timeout)
    elif args.command == "worker":
        problem = probe_worker(args.name, args.timeout)
    else:
        problem = probe_beat(args.schedule, args.max_age)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
