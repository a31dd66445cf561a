"""Leases: one process at a time holds a named job (``clinic.models.SchedulerLease``).

Taking and renewing are one statement, so two processes asking at once cannot both win: the
insert, or the update of a lease that is the asker's own or has expired, returns a row only to
the one that holds it afterwards. The clock is the caller's (``now``), like every other rule here.
"""

import datetime

from django.db import connection

from clinic.models import SchedulerLease
from clinic.sql import Table, statement

LEASE_TAKE = statement(
    """
    INSERT INTO {lease} ({lease.name}, {lease.holder}, {lease.expires_at})
    VALUES (%(name)s, %(holder)s, %(expires_at)s)
    ON CONFLICT ({lease.name}) DO UPDATE
        SET {lease.holder} = EXCLUDED.{lease.holder},
            {lease.expires_at} = EXCLUDED.{lease.expires_at}
        WHERE {lease}.{lease.holder} = EXCLUDED.{lease.holder}
           OR {lease}.{lease.expires_at} <= %(now)s
    RETURNING {lease.holder}
    """,
    lease=Table(SchedulerLease),
)


def lease_take(*, name: str, holder: str, now: datetime.datetime, seconds: float) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + seconds``; False while
    another holder's lease runs."""
    expires_at = now + datetime.timedelta(seconds=seconds)
    with connection.cursor() as cursor:
        cursor.execute(
            LEASE_TAKE, {"name": name, "holder": holder, "expires_at": expires_at, "now": now}
        )
        return cursor.fetchone() is not None


def lease_release(*, name: str, holder: str) -> None:
    """Give the lease up at once (a clean stop), so another process need not wait out its term."""
    SchedulerLease.objects.filter(name=name, holder=holder).delete()
