"""Reads from the streaming replica (``DATABASE_REPLICA_URL``, alias ``replica``): the one home of
the rule of which reads may go there.

A read goes to the replica only inside ``replica_reads()``, which the heavy report views open
around their report reads (the census, the step-down board, the continuity and outcomes reports,
the audit trail), and only while the replica is at most ``REPLICA_MAX_LAG_SECONDS`` behind. Writes
always go to the primary, and so does every other read, so a request reads what it just wrote.
Inside a transaction on the primary, reads stay there too (it may hold the request's writes).

The lag is checked when a scope opens, at most once per ``LAG_CHECK_SECONDS`` per process; a
stale or unreachable replica sends the scope's reads to the primary and logs a warning.
"""

import contextlib
import contextvars
import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.utils import timezone

logger = logging.getLogger(__name__)

REPLICA = "replica"
# How long a process trusts its last look at the replica's lag.
LAG_CHECK_SECONDS = 5

_reads_from = contextvars.ContextVar("replica_reads_from", default=DEFAULT_DB_ALIAS)

# The replica's lag, from the replica's own view of its WAL, with Python's clock as "now".
# A replica that has replayed all it received from a streaming WAL receiver is caught up however
# old its last replayed transaction is (an idle primary sends nothing to replay). The receiver's
# status is hidden from roles without pg_read_all_stats (NULL): a receiver that is there counts.
LAG_FACTS = """
SELECT pg_is_in_recovery(),
       COALESCE(pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), false)
       AND EXISTS (
           SELECT 1 FROM pg_stat_wal_receiver WHERE status IS NULL OR status = 'streaming'
       ),
       EXTRACT(EPOCH FROM %s - pg_last_xact_replay_timestamp())
"""


def lag_seconds(*, in_recovery: bool, caught_up: bool, replay_age: float | None) -> float | None:
    """The replica's lag: 0 for a server that is not replaying (a primary, a promoted replica)
    or that has replayed everything its streaming receiver got; else the age of its last
    replayed transaction (None when it has replayed none yet: unknown)."""
    if not in_recovery or caught_up:
        return 0.0
    return None if replay_age is None else max(float(replay_age), 0.0)


def replica_configured() -> bool:
    return REPLICA in connections.settings


def replica_lag(*, now) -> float | None:
    """The replica's lag in seconds (None: unknown). Raises DatabaseError when unreachable."""
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(LAG_FACTS, [now])
        in_recovery, caught_up, replay_age = cursor.fetchone()
    return lag_seconds(in_recovery=in_recovery, caught_up=caught_up, replay_age=replay_age)


@dataclass(frozen=True)
class LagCheck:
    fresh: bool
    checked_at: float  # time.monotonic()


_last_check: LagCheck | None = None
_check_lock = threading.Lock()


@dataclass(frozen=True)
class ReplicaState:
    state: str  # "ok", "stale", "unknown" or "unreachable"
    lag: float | None = None
    error: str = ""  # the exception's class, when unreachable


def replica_state() -> ReplicaState:
    """The one rule of whether the replica may serve reads: reachable, its lag known and at most
    ``REPLICA_MAX_LAG_SECONDS``."""
    try:
        lag = replica_lag(now=timezone.now())
    except DatabaseError as error:
        # Closed, so the next check connects afresh instead of reusing a broken connection.
        connections[REPLICA].close()
        return ReplicaState("unreachable", error=type(error).__name__)
    if lag is None:
        return ReplicaState("unknown")
    return ReplicaState("ok" if lag <= settings.REPLICA_MAX_LAG_SECONDS else "stale", lag)


def _check_replica() -> bool:
    checked = replica_state()
    if checked.state == "unreachable":
        logger.warning(
            "Reading from the primary: the replica cannot be reached (%s).", checked.error
        )
    elif checked.state == "unknown":
        logger.warning("Reading from the primary: the replica's lag is unknown (nothing replayed).")
    elif checked.state == "stale":
        logger.warning(
            "Reading from the primary: the replica is %.1f s behind (limit %s s).",
            checked.lag,
            settings.REPLICA_MAX_LAG_SECONDS,
        )
    return checked.state == "ok"


def replica_fresh() -> bool:
    """Whether reads may go to the replica now (configured, reachable, within the lag limit);
    looked at again at most every LAG_CHECK_SECONDS in this process."""
    global _last_check
    if not replica_configured():
        return False
    with _check_lock:
        last = _last_check
        if last is not None and time.monotonic() - last.checked_at < LAG_CHECK_SECONDS:
            return last.fresh
        _last_check = LagCheck(fresh=_check_replica(), checked_at=time.monotonic())
        return _last_check.fresh


def forget_replica_lag() -> None:
    """The next scope looks at the replica again (tests, and a changed configuration)."""
    global _last_check
    with _check_lock:
        _last_check = None


@contextlib.contextmanager
def replica_reads():
    """Inside this (a ``with`` block or a decorator), reads go to the replica while it is fresh."""
    token = _reads_from.set(REPLICA if replica_fresh() else DEFAULT_DB_ALIAS)
    try:
        yield
    finally:
        _reads_from.reset(token)


class ReplicaRouter:
    """The database router: the replica for reads in a ``replica_reads()`` scope, the primary for
    everything else."""

    def db_for_read(self, model, **hints):
        if _reads_from.get() == REPLICA and not connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return REPLICA
        return None  # Django's choice: the primary, or the database of a related row

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        # Rows read from the replica are the primary's rows: a new row may point at them.
        if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA}:
            return True
        return None

    def allow_migrate(self, db, app_label, **hints):
        return db == DEFAULT_DB_ALIAS


def replica_status() -> dict:
    """The replica as /health/ shows it: its state (``not configured``, ``unreachable``,
    ``unknown``, ``stale`` or ``ok``) and lag. A stale replica is no failure: its reads go to the
    primary."""
    if not replica_configured():
        return {"state": "not configured"}
    checked = replica_state()
    lag = None if checked.lag is None else round(checked.lag, 1)
    return {
        "state": checked.state,
        "lag_seconds": lag,
        "max_lag_seconds": settings.REPLICA_MAX_LAG_SECONDS,
    }
