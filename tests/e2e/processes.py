"""Starting and stopping the servers the end-to-end tests run (web processes, PgBouncer)."""

import signal
import subprocess
import time
from collections.abc import Callable


def wait_answering(
    process: subprocess.Popen,
    answers: Callable[[], bool],
    *,
    name: str,
    timeout: float,
    interval: float,
    log: Callable[[], str] = lambda: "",
) -> None:
    """Until ``answers()`` is true; a RuntimeError with ``log()`` when the process exits first or
    ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while not answers():
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{log()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start:\n{log()}")
        time.sleep(interval)


def terminate(process: subprocess.Popen, *, timeout: float = 30) -> None:
    """SIGTERM (a clean shutdown), then SIGKILL after ``timeout`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
