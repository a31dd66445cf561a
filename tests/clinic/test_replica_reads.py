"""The read replica: the reports and the audit trail read from it, inside their scope only, while
it is fresh; writes of those requests, and every other read, stay on the primary; a stale or
unreachable replica sends the reads to the primary with a warning, never a 500.

The replica here is a second connection to the test database (tests/clinic/conftest.py), so
each request's queries are captured per connection to see which one ran them. Transactional
tests: the data must be committed for the second connection to see it.
"""

import datetime
import logging

import pytest
import time_machine
from django.db import connections
from django.test.utils import CaptureQueriesContext

from clinic import replica
from clinic.models import AuditEvent
from clinic.replica import REPLICA, lag_seconds, replica_fresh, replica_reads
from patients.models import Level
from programs.models import Enrollment
from tests.factories import (
    ClinicFactory,
    PatientFactory,
    ProgramFactory,
    admin_login,
    staff_user,
)
from tests.programs.reports.helpers import admit

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", REPLICA])

NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
REPORTS = [
    "/api/v1/reports/census/",
    "/api/v1/reports/step-down/",
    "/api/v1/reports/continuity/",
    "/api/v1/reports/outcomes/",
    "/api/v1/audit-events/",
]
ADMIN_REPORTS = [
    "/admin/programs/enrollment/census/",
    "/admin/programs/enrollment/step-down/",
    "/admin/programs/enrollment/continuity-report/",
    "/admin/programs/enrollment/outcomes-report/",
]
ENROLLMENT_TABLE = Enrollment._meta.db_table
AUDIT_TABLE = AuditEvent._meta.db_table


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def supervisor(replica_alias):
    """A supervisor (every report's role) of a clinic with one residential stay begun today and
    one discharged last month (the continuity report lists it, and audits its reading)."""
    clinic = ClinicFactory()
    supervisor = staff_user(role="supervisor", clinics=[clinic], is_staff=True)
    staff_user(role="clinician", clinics=[clinic])
    house = ProgramFactory(clinic=clinic, level=Level.RESIDENTIAL, capacity=5)
    admit(PatientFactory(clinic=clinic), house, datetime.date(2026, 12, 1))
    ended = admit(PatientFactory(clinic=clinic), house, datetime.date(2026, 10, 20))
    Enrollment.objects.filter(pk=ended.pk).update(
        status="discharged",
        discharge_date=datetime.date(2026, 11, 10),
        discharge_reason="completed",
    )
    return supervisor


@pytest.fixture
def supervisor_with_a_stay(supervisor, client_for):
    return client_for(supervisor)


def captured(path, client):
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections[REPLICA]) as replica_queries,
    ):
        response = client.get(path)
    assert response.status_code == 200, response.content
    return response, [q["sql"] for q in primary], [q["sql"] for q in replica_queries]


# Reads start with SELECT or WITH (the census's day counts are one raw WITH statement).
READ_STARTS = ("SELECT", "WITH")


def reads(statements, table):
    return [sql for sql in statements if table in sql and sql.lstrip().startswith(READ_STARTS)]


def writes(statements):
    return [sql for sql in statements if not sql.lstrip().upper().startswith(READ_STARTS)]


# Where the reads go -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", REPORTS)
def test_the_reports_read_from_the_replica(path, supervisor_with_a_stay):
    _response, primary, replica_sql = captured(path, supervisor_with_a_stay)

    assert replica_sql, "nothing was read from the replica"
    assert writes(replica_sql) == []
    # The report's own tables are read on the replica only (the primary answers the sign-in's
    # and the permission's reads, made before the report's scope opens).
    table = AUDIT_TABLE if "audit-events" in path else ENROLLMENT_TABLE
    assert any(table in sql for sql in replica_sql)
    assert reads(primary, table) == []


@pytest.mark.parametrize("path", ADMIN_REPORTS)
def test_the_admin_s_report_pages_read_from_the_replica(path, supervisor, client):
    _response, primary, replica_sql = captured(path, admin_login(client, supervisor))

    assert any(ENROLLMENT_TABLE in sql for sql in replica_sql)
    assert writes(replica_sql) == []
    assert reads(primary, ENROLLMENT_TABLE) == []


def test_audit_rows_written_by_a_report_go_to_the_primary(supervisor_with_a_stay):
    before = AuditEvent.objects.count()

    _response, primary, replica_sql = captured("/api/v1/reports/step-down/", supervisor_with_a_stay)

    assert AuditEvent.objects.count() > before
    assert any(AUDIT_TABLE in sql for sql in writes(primary))
    assert writes(replica_sql) == []


def test_other_reads_stay_on_the_primary(supervisor_with_a_stay):
    # The enrollments list is no report: read-your-writes holds for it.
    _response, primary, replica_sql = captured("/api/v1/enrollments/", supervisor_with_a_stay)

    assert replica_sql == []
    assert any(ENROLLMENT_TABLE in sql for sql in primary)


def test_reads_outside_the_scope_or_in_a_transaction_stay_on_the_primary(replica_alias):
    from django.db import transaction

    assert Enrollment.objects.all().db == "default"
    with replica_reads():
        assert Enrollment.objects.all().db == REPLICA
        with transaction.atomic():
            # It may hold this request's own writes.
            assert Enrollment.objects.all().db == "default"
    assert Enrollment.objects.all().db == "default"


# When the replica is stale or gone ----------------------------------------------------------------


def test_a_replica_over_the_lag_limit_sends_the_reads_to_the_primary(
    supervisor_with_a_stay, monkeypatch, settings, caplog
):
    settings.REPLICA_MAX_LAG_SECONDS = 30
    monkeypatch.setattr(replica, "replica_lag", lambda now: 45.25)
    caplog.set_level(logging.WARNING, logger="clinic.replica")

    _response, primary, replica_sql = captured("/api/v1/reports/census/", supervisor_with_a_stay)

    assert replica_sql == []
    assert any(ENROLLMENT_TABLE in sql for sql in primary)
    assert [r.getMessage() for r in caplog.records] == [
        "Reading from the primary: the replica is 45.2 s behind (limit 30 s)."
    ]


def test_the_lag_is_checked_once_per_interval(replica_alias, monkeypatch, settings):
    asked = []
    monkeypatch.setattr(replica, "replica_lag", lambda now: asked.append(now) or 1.0)

    assert all(replica_fresh() for _ in range(5))

    # One clock: Python's (frozen here), passed to the lag query.
    assert asked == [NOW]


def test_an_unreachable_replica_sends_the_reads_to_the_primary(
    supervisor_with_a_stay, unreachable_replica, caplog
):
    caplog.set_level(logging.WARNING, logger="clinic.replica")

    response = supervisor_with_a_stay.get("/api/v1/reports/census/")

    assert response.status_code == 200
    assert response.json()["results"]
    assert [r.getMessage() for r in caplog.records] == [
        "Reading from the primary: the replica cannot be reached (OperationalError)."
    ]


# The lag ------------------------------------------------------------------------------------------


def test_the_lag_query_reads_a_server_that_is_not_replaying_as_caught_up(replica_alias):
    # The "replica" here is the primary itself: not in recovery, so no lag.
    assert replica.replica_lag(now=NOW) == 0.0


def test_an_idle_primary_does_not_make_a_caught_up_replica_stale():
    # Nothing written for an hour: the last replayed transaction is an hour old, but everything
    # received has been replayed.
    assert lag_seconds(in_recovery=True, caught_up=True, replay_age=3600.0) == 0.0


def test_a_replica_behind_lags_by_the_age_of_its_last_replayed_transaction():
    assert lag_seconds(in_recovery=True, caught_up=False, replay_age=42.5) == 42.5
    # Nothing replayed yet: unknown, which counts as stale.
    assert lag_seconds(in_recovery=True, caught_up=False, replay_age=None) is None
