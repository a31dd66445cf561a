"""The fixtures of tests/clinic. The ``replica`` database alias: a second connection to the test
database, declared as its mirror (what DATABASE_REPLICA_URL configures, with the test database
for the replica). Tests that read through it say so:
``django_db(databases=["default", "replica"])``."""

import copy

import pytest
from django.db import connections

from clinic.replica import REPLICA, forget_replica_lag
from config.embedded import free_port


def _drop_connection():
    if REPLICA in connections.settings:
        connections[REPLICA].close()
        del connections[REPLICA]


@pytest.fixture(scope="module")
def replica_alias(django_db_setup):
    """The alias, for this module's tests (module-scoped: it must exist before pytest-django
    checks the test's databases)."""
    replica = copy.deepcopy(connections["default"].settings_dict)
    replica["TEST"] = {**replica.get("TEST", {}), "MIRROR": "default"}
    connections.settings[REPLICA] = replica
    yield REPLICA
    _drop_connection()
    del connections.settings[REPLICA]


@pytest.fixture(autouse=True)
def fresh_lag_check():
    """Each test looks at the replica afresh (the lag is cached per process)."""
    forget_replica_lag()
    yield
    forget_replica_lag()


@pytest.fixture
def unreachable_replica(replica_alias):
    """The replica alias pointed at a port nobody listens on (transactional tests only: a test
    case's transaction holds the alias's first connection)."""
    settings_dict = connections.settings[REPLICA]
    port = settings_dict["PORT"]
    _drop_connection()
    settings_dict["PORT"] = str(free_port())
    yield
    _drop_connection()
    settings_dict["PORT"] = port
