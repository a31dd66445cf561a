"""``make run``: everything a developer needs, started and stopped as one.

Starts the embedded PostgreSQL/Redis this configuration relies on, migrates, seeds the demo data
(DEBUG only), then runs gunicorn, a Celery worker and Celery beat as child processes. Ctrl-C or
SIGTERM stops the children and then the embedded servers this command started (servers that were
already running belong to someone else and are left alone).
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections

from clinic.demo import DEMO_STAFF, demo_otpauth_uri, demo_totp_secret
from config import embedded

CHILD_STOP_SECONDS = 15


class ShutdownRequested(BaseException):
    """Raised from the signal handler so that any step (even a migration) unwinds to cleanup."""


class Command(BaseCommand):
    help = "Run the service locally: web, Celery worker and beat, with embedded servers if needed."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-seed", action="store_true", help="Skip the demo data.")

    def handle(self, *args, port, no_seed, **options):
        self.children: dict[str, subprocess.Popen] = {}
        self.started_servers: list[str] = []
        self.stopping = False
        signal.signal(signal.SIGINT, self._request_shutdown)
        signal.signal(signal.SIGTERM, self._request_shutdown)
        exit_code = 0
        try:
            self.started_servers = embedded.ensure_project_servers(settings.EMBEDDED_SERVERS)
            call_command("migrate", interactive=False, verbosity=1)
            call_command("collectstatic", interactive=False, verbosity=0)
            if settings.DEBUG and not no_seed:
                call_command("seed_demo")
            connections.close_all()  # children open their own; do not hold one idle
            self._start_children(port)
            self._wait_for_port(port)
            self._print_banner(port)
            exit_code = self._watch_children()
        except ShutdownRequested:
            self.stdout.write("Stopping...")
        finally:
            self.stopping = True
            self._stop_children()
            connections.close_all()
            self._stop_embedded_servers()
        if exit_code:
            sys.exit(exit_code)

    # Signals ------------------------------------------------------------------------------------

    def _request_shutdown(self, signum, frame):
        if self.stopping:
            return  # already cleaning up; a second Ctrl-C must not cut that short
        self.stopping = True
        raise ShutdownRequested

    # Children -----------------------------------------------------------------------------------

    def _commands(self, port: int) -> dict[str, list[str]]:
        python = sys.executable
        web = [
            python,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            # Log lines without query strings or feed tokens (config/access_log.py).
            "--config",
            "python:config.gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "10",
        ]
        if settings.DEBUG:
            web.append("--reload")
        return {
            "web": web,
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "--hostname",
                "continuum@%h",
            ],
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
        }

    def _start_children(self, port: int) -> None:
        os.makedirs(os.path.dirname(settings.CELERY_BEAT_SCHEDULE_FILENAME), exist_ok=True)
        for name, argv in self._commands(port).items():
            # Own process group: a terminal's Ctrl-C reaches us, and we stop children in order.
            self.children[name] = subprocess.Popen(  # noqa: S603 - our own argv
                argv, cwd=settings.BASE_DIR, start_new_session=True
            )

    def _wait_for_port(self, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.children["web"].poll() is not None:
                return
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.2)

    def _watch_children(self) -> int:
        while True:
            for name, child in self.children.items():
                code = child.poll()
                if code is not None:
                    self.stderr.write(f"{name} exited with code {code}; stopping everything.")
                    return code or 1
            time.sleep(0.3)

    def _stop_children(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + CHILD_STOP_SECONDS
        for child in self.children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait()

    def _stop_embedded_servers(self) -> None:
        for server, name in zip(
            embedded.project_servers(self.started_servers), self.started_servers, strict=True
        ):
            server.stop()
            self.stdout.write(f"Stopped embedded {name}.")

    # Output -------------------------------------------------------------------------------------

    def _print_banner(self, port: int) -> None:
        base = f"http://127.0.0.1:{port}"
        lines = [
            "",
            "Continuum is running.",
            f"  API          {base}/api/v1/",
            f"  API docs     {base}/api/docs/",
            f"  Admin        {base}/admin/",
            f"  Health       {base}/health/",
        ]
        if settings.DEBUG:
            lines.append(
                f"  Demo logins  {', '.join(DEMO_STAFF)} (password: {settings.DEMO_PASSWORD})"
            )
            two_factor = "on" if settings.STAFF_MFA_REQUIRED else "off (STAFF_MFA_REQUIRED=1)"
            lines += [
                f"  Two-factor   {two_factor}; the demo users' authenticator key:",
                f"               {demo_totp_secret()}  ({demo_otpauth_uri()})",
            ]
        lines += ["Press Ctrl-C to stop everything.", ""]
        self.stdout.write("\n".join(lines))
