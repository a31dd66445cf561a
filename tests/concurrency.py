"""Racing transactions deterministically: hold one open (with its row locks) on a connection of
its own, start the contender in a thread, and see it wait on PostgreSQL's lock manager before
letting the first one commit. Use in ``django_db(transaction=True)`` tests: each thread has its
own connection and sees only committed rows."""

import threading
import time
from contextlib import contextmanager

from django.db import connection, connections, transaction


class InThread:
    """``work()`` in a thread on its own database connection; ``join()`` gives its result or
    raises its error."""

    def __init__(self, work):
        self._work = work
        self._result = None
        self._error = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            self._result = self._work()
        except BaseException as error:  # handed back to the test by join()
            self._error = error
        finally:
            connection.close()

    def start(self) -> "InThread":
        self._thread.start()
        return self

    def join(self, timeout: float = 30):
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the thread is still running"
        if self._error is not None:
            raise self._error
        return self._result


@contextmanager
def held_transaction(work):
    """Run ``work()`` in a transaction on another connection and keep that transaction open —
    its locks held — until the block exits, then commit it. Yields ``work()``'s result."""
    done, release = threading.Event(), threading.Event()
    outcome = {}

    def hold():
        with transaction.atomic():
            outcome["result"] = work()
            done.set()
            release.wait(30)

    holder = InThread(hold).start()
    try:
        if not done.wait(30):
            holder.join(0)  # raises the holder's error, if it failed
        yield outcome.get("result")
    finally:
        release.set()
        holder.join()


def someone_waits_for_a_lock(timeout: float = 5) -> bool:
    """Whether, within ``timeout`` seconds, another session of this database waits on a lock
    (a ``SELECT … FOR UPDATE`` queued behind a held row lock)."""
    deadline = time.monotonic() + timeout
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False
