"""`manage.py celery_metrics --port 9808`: a Prometheus exporter for Celery, fed by Celery's own events.

Workers (with `worker_send_task_events`) and publishers (with `task_send_sent_event`) emit an event for every step
of a task and a heartbeat every two seconds. This command listens to them through the broker and counts, per task
name, how many tasks were sent, received, started, succeeded, failed, retried, rejected and revoked, times the
successful ones, and counts the workers whose heartbeat is recent. Run exactly one per broker: the counts are
per exporter, and two would double them in any sum.

Why our own: the maintained exporter (danihodovic/celery-exporter) pins redis-py 5 and prometheus-client 0.21 and
brings Flask, waitress and loguru, so it cannot share the platform's environment (celery 5.7, redis-py 8); the
PyPI ones (celery-exporter, celery-prometheus-exporter) had their last releases in 2021 and 2019. This one is
small, uses the platform's own Celery app and settings, and is tested end to end (tests/deploy/).
Task names are a bounded label: the names registered on the app, anything else is "other".
"""

import logging
import signal
import threading
import time
from collections import OrderedDict

from django.core.management.base import BaseCommand
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

PREFIX = "eduplatform_celery_"
TASK_STATES = ("sent", "received", "started", "succeeded", "failed", "retried", "rejected", "revoked")
RUNTIME_BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200)
OTHER = "other"
# Task names are remembered by id between "task-received" and its later events (which carry only the id).
MAX_REMEMBERED_TASKS = 10_000
# A worker beats every `freq` seconds (2 by default); silent for this many beats, it is counted as gone.
MISSED_HEARTBEATS = 5
FORGET_WORKER_AFTER = 3600.0


class CeleryEventState(Collector):
    """Counts from the event stream, read by the HTTP server's thread while the receiver's thread writes."""

    def __init__(self, task_names: set[str]):
        self.lock = threading.Lock()
        self.task_names = task_names
        self.counts = {(name, state): 0 for name in task_names for state in TASK_STATES}
        # Zeros from the start, so that the first event is an increase that rate() can see.
        self.runtime_buckets = {name: [0] * len(RUNTIME_BUCKETS) for name in task_names}
        self.runtime_sum = dict.fromkeys(task_names, 0.0)
        self.runtime_count = dict.fromkeys(task_names, 0)
        self.names_by_id: OrderedDict[str, str] = OrderedDict()
        self.workers: dict[str, dict] = {}  # hostname -> {seen (monotonic), freq, active}
        self.connected = False
        self.events = 0

    def _name(self, event: dict) -> str:
        uuid = event.get("uuid", "")
        name = event.get("name")
        if name:
            name = name if name in self.task_names else OTHER
            self.names_by_id[uuid] = name
            self.names_by_id.move_to_end(uuid)
            while len(self.names_by_id) > MAX_REMEMBERED_TASKS:
                self.names_by_id.popitem(last=False)
            return name
        return self.names_by_id.get(uuid, OTHER)

    def on_event(self, event: dict) -> None:
        kind = event.get("type", "")
        now = time.monotonic()
        with self.lock:
            self.events += 1
            if kind.startswith("task-"):
                state = kind[len("task-") :]
                if state not in TASK_STATES:
                    return
                name = self._name(event)
                self.counts[(name, state)] = self.counts.get((name, state), 0) + 1
                if state == "succeeded" and isinstance(event.get("runtime"), int | float):
                    self._observe(name, float(event["runtime"]))
                if state in ("succeeded", "failed", "rejected", "revoked"):
                    self.names_by_id.pop(event.get("uuid", ""), None)
            elif kind == "worker-offline":
                self.workers.pop(event.get("hostname", ""), None)
            elif kind in ("worker-online", "worker-heartbeat"):
                self.workers[event.get("hostname", "")] = {
                    "seen": now,
                    "freq": float(event.get("freq") or 2.0),
                    "active": int(event.get("active") or 0),
                }

    def _observe(self, name: str, seconds: float) -> None:
        buckets = self.runtime_buckets.setdefault(name, [0] * len(RUNTIME_BUCKETS))
        for i, bound in enumerate(RUNTIME_BUCKETS):
            if seconds <= bound:
                buckets[i] += 1
        self.runtime_sum[name] = self.runtime_sum.get(name, 0.0) + seconds
        self.runtime_count[name] = self.runtime_count.get(name, 0) + 1

    def collect(self):
        now = time.monotonic()
        with self.lock:
            for hostname, worker in list(self.workers.items()):
                if now - worker["seen"] > FORGET_WORKER_AFTER:
                    del self.workers[hostname]
            alive = [w for w in self.workers.values() if now - w["seen"] <= MISSED_HEARTBEATS * w["freq"]]
            tasks = CounterMetricFamily(
                f"{PREFIX}tasks", "Task events seen, by task name and state.", labels=["name", "state"]
            )
            for (name, state), n in sorted(self.counts.items()):
                tasks.add_metric([name, state], n)
            runtime = HistogramMetricFamily(
                f"{PREFIX}task_runtime_seconds", "Run time of succeeded tasks, by task name.", labels=["name"]
            )
            for name in sorted(self.runtime_count):
                cumulative = [
                    (str(float(b)), n) for b, n in zip(RUNTIME_BUCKETS, self.runtime_buckets[name], strict=True)
                ]
                cumulative.append(("+Inf", self.runtime_count[name]))
                runtime.add_metric([name], cumulative, self.runtime_sum[name])
            workers = GaugeMetricFamily(f"{PREFIX}workers", "Celery workers whose heartbeat is recent.")
            workers.add_metric([], len(alive))
            active = GaugeMetricFamily(f"{PREFIX}tasks_active", "Tasks running on live workers (from heartbeats).")
            active.add_metric([], sum(w["active"] for w in alive))
            connected = GaugeMetricFamily(f"{PREFIX}exporter_connected", "1 while the exporter listens to the broker.")
            connected.add_metric([], 1 if self.connected else 0)
            events = CounterMetricFamily(f"{PREFIX}exporter_events", "Celery events received by the exporter.")
            events.add_metric([], self.events)
        yield from (tasks, runtime, workers, active, connected, events)


class Command(BaseCommand):
    help = "Serve Prometheus metrics about Celery tasks and workers, from Celery events."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=9808)
        parser.add_argument("--addr", default="0.0.0.0")  # noqa: S104 - scraped from another container
        parser.add_argument("--retry-seconds", type=float, default=5.0, help="wait before reconnecting")

    def handle(self, *args, port, addr, retry_seconds, **options):
        from eduplatform.celery import app

        app.loader.import_default_modules()
        state = CeleryEventState({name for name in app.tasks if not name.startswith("celery.")})
        registry = CollectorRegistry(auto_describe=False)
        registry.register(state)
        start_http_server(port, addr=addr, registry=registry)
        self.stdout.write(f"celery metrics on http://{addr}:{port}/metrics ({len(state.task_names)} task names)")
        self.stdout.flush()

        stopping = threading.Event()

        def stop(*_args):
            stopping.set()
            raise SystemExit(0)

        signal.signal(signal.SIGTERM, stop)
        while not stopping.is_set():
            try:
                with app.connection_for_read() as connection:
                    receiver = app.events.Receiver(connection, handlers={"*": state.on_event})
                    state.connected = True
                    # wakeup: ask every worker for a heartbeat now, so they are counted without waiting.
                    receiver.capture(limit=None, timeout=None, wakeup=True)
            except Exception as exc:  # noqa: BLE001 - lost the broker: report it and reconnect
                logger.warning("celery events: %s: %s; reconnecting in %ss", type(exc).__name__, exc, retry_seconds)
            finally:
                state.connected = False
            stopping.wait(retry_seconds)
