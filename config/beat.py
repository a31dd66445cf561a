"""The Celery beat scheduler: only the beat holding the lease in the database sends tasks.

Two beats started by mistake (two hosts, a deploy that overlaps) would otherwise send every
periodic task twice. Each beat keeps its own schedule and ticks as usual, but a due entry is
sent only while the beat holds the ``beat`` lease (``clinic.services.leases``), renewed every
third of ``BEAT_LEASE_SECONDS``; the other beat stands by, marking its entries run without
sending them (so it keeps the schedule's pace and does not send a backlog when it takes over),
and takes the lease over once the holder has stopped renewing it. A beat that stops cleanly
gives the lease up at once. A holder killed outright leaves a gap of at most 1⅓ leases: a run
due in it is skipped, which each periodic task here tolerates (they scan for what is due, so the
next run does the work; a daily one runs the next day).
"""

import logging
import os
import socket
import time
import uuid

from celery.beat import PersistentScheduler
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from clinic.services.leases import lease_release, lease_take

logger = logging.getLogger(__name__)

LEASE_NAME = "beat"


def _fresh_connection():
    """What Django does before a request: drop a connection that is broken or past its age (a
    database restarted while beat slept). Never inside a transaction (a test's)."""
    if not connection.in_atomic_block:
        close_old_connections()


class LeaseScheduler(PersistentScheduler):
    def __init__(self, *args, **kwargs):
        self.lease_seconds = settings.BEAT_LEASE_SECONDS
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.holding = None  # not asked yet
        self._asked_at = None  # time.monotonic() of the last take or renewal
        self._held_until = 0.0
        super().__init__(*args, **kwargs)
        # Ticks come at least this often, so the lease is renewed well before it runs out.
        self.max_interval = min(self.max_interval, self.renew_seconds)

    @property
    def renew_seconds(self) -> float:
        return self.lease_seconds / 3

    def keep_lease(self) -> bool:
        """Take or renew the lease when a third of its term has passed; whether it is held."""
        asked_at = time.monotonic()
        if self._asked_at is not None and asked_at - self._asked_at < self.renew_seconds:
            return bool(self.holding) and asked_at < self._held_until
        self._asked_at = asked_at
        try:
            _fresh_connection()
            held = lease_take(
                name=LEASE_NAME, holder=self.holder, now=timezone.now(), seconds=self.lease_seconds
            )
        except DatabaseError as error:
            # Unsure whether the lease still runs: send nothing until the database answers.
            logger.warning("Beat stands by: no database (%s).", type(error).__name__)
            held = False
        if held:
            # The lease runs lease_seconds from before the statement: a bound on this process's
            # clock, whatever the statement's delay.
            self._held_until = asked_at + self.lease_seconds
        if held != self.holding:
            if held:
                logger.warning("Beat %s holds the lease: it sends the periodic tasks.", self.holder)
            else:
                logger.warning("Beat %s stands by: another beat holds the lease.", self.holder)
        self.holding = held
        return held

    def tick(self, *args, **kwargs):
        self.keep_lease()
        return min(super().tick(*args, **kwargs), self.renew_seconds)

    def apply_entry(self, entry, producer=None):
        if self.keep_lease():
            super().apply_entry(entry, producer=producer)
        else:
            logger.debug("Beat stands by: %s not sent.", entry.name)

    def close(self):
        if self.holding:
            try:
                _fresh_connection()
                lease_release(name=LEASE_NAME, holder=self.holder)
            except DatabaseError:
                pass  # the lease runs out on its own
            self.holding = False
        super().close()
