"""`make run`: prepare the database and start the web server and a Celery worker until Ctrl-C."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    def _first_models(self):
        """On a new database, queue the first training so the map fills in minutes after start-up; the worker
        trains the default suite and its best model becomes the champion that scores every district."""
        from jobs.models import Job
        from predictions.models import ModelVersion
        from predictions.services.training import model_train_request

        if ModelVersion.objects.exists() or Job.objects.filter(kind=Job.Kind.MODEL_TRAIN).exists():
            return
        job = model_train_request(user=None)
        self.stdout.write(f"· training the first models in the worker (job #{job.pk}); the map fills in when done")

    help = "Migrate, load the Peru reference data and demo users, then run the web server and a worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        parser.add_argument("--worker-concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "2")))
        parser.add_argument("--skip-data", action="store_true", help="do not (re)load the Peru reference data")

    def handle(self, *args, host, port, web_workers, worker_concurrency, skip_data, **options):
        self.stdout.write("· database: " + settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1])
        self.stdout.write("· broker: " + ("redis" if settings.REDIS_URL else "filesystem (embedded)"))
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        if not skip_data and "load_peru" in get_commands():
            call_command("load_peru")
        call_command("demo_users")

        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "eduplatform.settings"}
        bin_dir = os.path.dirname(sys.executable)
        web = [
            os.path.join(bin_dir, "gunicorn"),
            "eduplatform.wsgi:application",
            "--config",
            str(settings.BASE_DIR / "deploy" / "gunicorn.conf.py"),
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(web_workers),
        ]
        worker = [
            os.path.join(bin_dir, "celery"),
            "-A",
            "eduplatform",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(worker_concurrency),
            "--beat",
            "--schedule",
            settings.CELERY_BEAT_SCHEDULE_FILENAME,
        ]
        children = [subprocess.Popen(web, env=env), subprocess.Popen(worker, env=env)]
        self._first_models()

        def stop(*_args):
            for child in children:
                if child.poll() is None:
                    child.terminate()
            deadline = time.monotonic() + 15
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
            self.stdout.write("stopped")
            sys.exit(0)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        self.stdout.write(
            self.style.SUCCESS(f"\nThe platform is running at http://{shown_host}:{port}/  (Ctrl-C stops it)\n")
        )
        while True:
            for child in children:
                if child.poll() is not None:
                    self.stderr.write(f"{child.args[0]} exited with status {child.returncode}; stopping")
                    stop()
            time.sleep(1)
