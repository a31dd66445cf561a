"""The service through a real PgBouncer in transaction pooling (``DATABASE_POOLER=pgbouncer``).

The pool is smaller than the number of clients, so consecutive transactions of one client run
on different server connections, and one server connection serves several clients in turn:
anything left on a session (a prepared statement, a SET, a held cursor) is missing on the next
transaction or meets another client's.

- Reminder drains in four threads at once, each through its own client connection to a pool of
  two: every due row claimed once and its outcome recorded (sent, or cancelled after an
  opt-out).
- The same in a real Celery worker (four threads) started with ``DATABASE_POOLER=pgbouncer``.
- A real gunicorn (two workers, a pool of one) started the same way: lists, a create inside a
  transaction, a read of what was created.
"""

import contextlib
import datetime
import os
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from clinic.models import Clinic
from clinic.notifications import backends
from patients.models import Patient
from scheduling.models import Reminder
from scheduling.reminders.draining import drain
from tests.e2e.celery_processes import CeleryProcesses, wait_until
from tests.e2e.cluster import Api, WebProcess
from tests.e2e.pgbouncer import PgBouncer
from tests.factories import due_sms, staff_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DUE = 200
OPTED_OUT = 20
DRAINS = 4
SEND_GROUP = 5


def database_name() -> str:
    return connection.settings_dict["NAME"]


@pytest.fixture
def pooler(transactional_db, tmp_path):
    """A PgBouncer in front of the test database's server, pool of two; stopped before the
    test database is flushed."""
    conf = connection.settings_dict
    bouncer = PgBouncer(
        tmp_path / "pgbouncer",
        upstream_host=conf["HOST"] or "127.0.0.1",
        upstream_port=int(conf["PORT"] or 5432),
        pool_size=2,
    )
    bouncer.start()
    yield bouncer
    bouncer.stop()


@contextlib.contextmanager
def this_thread_through(pooler: PgBouncer):
    """This thread's default connection goes through ``pooler`` with what the settings give a
    pooled connection (no startup options, no server-side cursors); closed and set back at the
    end."""
    wrapper = connections["default"]
    wrapper.close()
    direct = wrapper.settings_dict
    # A new dict: the settings' own is shared by every thread's connection.
    wrapper.settings_dict = {
        **wrapper.settings_dict,
        "HOST": "127.0.0.1",
        "PORT": str(pooler.port),
        "USER": "postgres",
        "OPTIONS": {},
        "DISABLE_SERVER_SIDE_CURSORS": True,
    }
    try:
        yield
    finally:
        wrapper.close()
        wrapper.settings_dict = direct


def due_reminders() -> tuple[set[int], set[int]]:
    """``DUE`` SMS reminders due now; the ids of those whose patient then opted out of SMS."""
    clinic = Clinic.objects.create(name="Pooler Clinic", public_name="Harbor", time_zone="UTC")
    ids = due_sms(clinic, DUE)
    opted_out = set(ids[:OPTED_OUT])
    Patient.objects.filter(reminders__in=opted_out).update(reminder_channels=[])
    return set(ids), opted_out


def statuses() -> dict[int, str]:
    return dict(Reminder.objects.values_list("id", "status"))


def test_the_pooler_turns_jit_off_on_its_server_connections(pooler):
    with this_thread_through(pooler), connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


def test_drains_in_threads_share_two_server_connections(pooler, settings):
    settings.REMINDER_SEND_GROUP = SEND_GROUP
    ids, opted_out = due_reminders()
    start = threading.Barrier(DRAINS)
    results: list[dict[int, str]] = []
    errors: list[BaseException] = []

    def run_drain():
        try:
            with this_thread_through(pooler):
                start.wait(timeout=30)
                results.append(drain(budget_seconds=60))
        except BaseException as error:  # the test reports it
            errors.append(error)

    threads = [threading.Thread(target=run_drain) for _ in range(DRAINS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    # Each row claimed by exactly one drain.
    claimed = [reminder_id for result in results for reminder_id in result]
    assert sorted(claimed) == sorted(ids)
    # More than one drain did the work, in groups: the server connections were shared.
    assert sum(1 for result in results if result) > 1
    final = statuses()
    assert {i for i, status in final.items() if status == "cancelled"} == opted_out
    assert {i for i, status in final.items() if status == "sent"} == ids - opted_out
    # Sent once each: one message per patient, each row with its provider's id.
    recipients = [message.to for message in backends.outbox]
    assert len(recipients) == len(set(recipients)) == DUE - OPTED_OUT
    provider_ids = set(
        Reminder.objects.filter(status="sent").values_list("provider_message_id", flat=True)
    )
    assert provider_ids == {message.id for message in backends.outbox}


def test_a_worker_behind_the_pooler_drains_every_due_reminder_once(pooler, tmp_path):
    ids, opted_out = due_reminders()
    processes = CeleryProcesses(
        log_dir=tmp_path / "celery",
        broker_url=os.environ["REDIS_URL"],
        env={
            "DATABASE_URL": pooler.url(database_name()),
            "DATABASE_POOLER": "pgbouncer",
            "REMINDER_SEND_GROUP": str(SEND_GROUP),
            "REMINDER_DRAIN_TASKS": str(DRAINS),
        },
    )
    try:
        processes.start_worker("pooled", concurrency=DRAINS)
        processes.start_beat()
        settled = wait_until(
            lambda: not Reminder.objects.filter(status__in=("pending", "sending")).exists(),
            timeout=90,
        )
        final = statuses()
        assert settled, (final, processes.logs())
    finally:
        processes.stop_all()
    assert {i for i, status in final.items() if status == "cancelled"} == opted_out
    assert {i for i, status in final.items() if status == "sent"} == ids - opted_out
    assert "Traceback" not in processes.logs(tail=100_000)


@pytest.fixture
def pooled_server(pooler, tmp_path):
    """gunicorn (two sync workers) with ``DATABASE_POOLER=pgbouncer`` and a pool of one."""
    pooler.stop()
    pooler.pool_size = 1
    pooler.start()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": pooler.url(database_name()),
        "DATABASE_POOLER": "pgbouncer",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    web = WebProcess("gunicorn", env=env, log_dir=tmp_path, workers=2)
    try:
        web.start()
        web.wait_ready()
        yield web.url
    finally:
        web.stop()


def call(base: str, token: str, method: str, path: str, body: dict | None = None):
    return Api(base, token).request(method, path, body)


def test_api_reads_and_writes_through_the_pooler(pooled_server):
    clinic = Clinic.objects.create(name="Pooler Clinic", public_name="Harbor", time_zone="UTC")
    clinician = staff_user(role="clinician", clinics=[clinic])
    patient = Patient.objects.create(
        clinic=clinic,
        mrn="PB-1",
        first_name="Ada",
        last_name="Pool",
        date_of_birth=datetime.date(1985, 5, 5),
        email="ada@example.org",
        reminder_channels=["email"],
    )
    token = str(AccessToken.for_user(clinician))
    starts = timezone.now() + datetime.timedelta(days=2)

    created = []
    for n in range(6):  # both gunicorn workers, one server connection between them
        at = starts + datetime.timedelta(hours=n)
        status, body = call(
            pooled_server,
            token,
            "POST",
            "/api/v1/sessions/",
            {
                "title": f"Check-in {n}",
                "kind": "individual",
                "patient": patient.pk,
                "starts_at": at.isoformat(),
                "ends_at": (at + datetime.timedelta(minutes=50)).isoformat(),
            },
        )
        assert status == 201, body
        created.append(body["id"])
    status, page = call(pooled_server, token, "GET", "/api/v1/sessions/?page_size=50")
    assert status == 200, page
    assert sorted(row["id"] for row in page["results"]) == sorted(created)
    status, patients = call(pooled_server, token, "GET", "/api/v1/patients/")
    assert status == 200, patients
    assert [row["id"] for row in patients["results"]] == [patient.pk]
    status, one = call(pooled_server, token, "GET", f"/api/v1/sessions/{created[0]}/")
    assert (status, one["title"]) == (200, "Check-in 0")
    # Each create planned its reminders in the same transaction.
    assert set(Reminder.objects.values_list("session_id", flat=True)) == set(created)
