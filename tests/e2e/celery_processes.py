"""Real Celery workers and beat as subprocesses, on the test database, for end-to-end tests.

The processes load the test settings with the test database's URL (the one pytest-django
created) and a broker of the test's choosing (Redis or RabbitMQ), so a test can stop and restart
that broker. They must be stopped before the test's database flush: use them from a fixture that
depends on ``transactional_db``.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.db import connection

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent


def current_database_url() -> str:
    """The URL of the database this test runs on (``test_…``), for the subprocesses."""
    conf = connection.settings_dict
    user = quote(conf["USER"] or "", safe="")
    password = f":{quote(conf['PASSWORD'], safe='')}" if conf.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = conf["HOST"] or "127.0.0.1"
    port = f":{conf['PORT']}" if conf["PORT"] else ""
    return f"postgres://{auth}{host}{port}/{conf['NAME']}"


class CeleryProcesses:
    """Workers and a beat, started and stopped (or killed) on demand; logs under ``log_dir``."""

    def __init__(self, *, log_dir: Path, broker_url: str, env: dict[str, str] | None = None):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("DEBUG",)},
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": current_database_url(),
            # The broker only: the cache stays on the test run's REDIS_URL.
            "CELERY_BROKER_URL": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "CELERY_BEAT_SCHEDULE_FILENAME": str(self.log_dir / "celerybeat-schedule"),
            "REMINDER_SCAN_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.workers: dict[str, subprocess.Popen] = {}
        self.beat: subprocess.Popen | None = None
        self._starts = 0

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        self._starts += 1
        log = (self.log_dir / f"{name}-{self._starts}.log").open("w")
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args],
            cwd=PROJECT_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start_worker(self, name: str, *, concurrency: int = 4, queues: str = "") -> None:
        """``queues``: the worker's ``-Q`` (comma-separated); every queue when empty."""
        # The threads pool: one process per worker, so SIGKILL cuts off every send in it at once
        # (with prefork, the pool's children would outlive a killed parent for a while).
        self.workers[name] = self._spawn(
            name,
            [
                "worker",
                "--pool=threads",
                f"--concurrency={concurrency}",
                f"--hostname={name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
                *([f"--queues={queues}"] if queues else []),
            ],
        )

    def kill_worker(self, name: str) -> None:
        process = self.workers.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def start_beat(self) -> None:
        self.beat = self._spawn("beat", ["beat", "--loglevel=INFO"])

    def stop_all(self) -> None:
        processes = list(self.workers.values()) + ([self.beat] if self.beat else [])
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.workers.clear()
        self.beat = None
        # The workers' database connections are gone; the test's flush can take its locks.

    def logs(self, tail: int = 4000) -> str:
        parts = []
        for path in sorted(self.log_dir.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)


def wait_until(predicate, *, timeout: float, interval: float = 0.25):
    """``predicate()``'s first truthy value within ``timeout`` seconds, else its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
