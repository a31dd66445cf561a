"""Beyond one machine, end to end: a PostgreSQL primary, a streaming replica, PgBouncer in
transaction pooling in front of the primary, two gunicorn web processes and two Celery workers
on different queues (plus beat), all real processes on this machine.

Through the two web processes in turn: an admission, a step-down, a group session whose
reminder is due at once (sent exactly once, by the `reminders` worker), the census, step-down
board and continuity report read from the replica once replay catches up; then, with replay
paused, a new admission stays out of the census while the replica's lag is within
REPLICA_MAX_LAG_SECONDS and shows once the lag passes it (the read falls back to the primary
and says so in the log, without patient data). /health/ reports the replica's lag and the
broker's kind.

The broker is a RabbitMQ node of the test's own (tests/e2e/rabbitmq.py) where Debian's
rabbitmq-server is installed, else a redis-server of the test's own (config.embedded).
"""

import contextlib
import datetime
import email
import json
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from clinic.replica import LAG_CHECK_SECONDS
from config.embedded import EmbeddedRedis, free_port
from tests.e2e import rabbitmq
from tests.e2e.celery_processes import CeleryProcesses, wait_until
from tests.e2e.cluster import (
    SEED_COMMAND,
    STAFF_PASSWORD,
    Api,
    StreamingReplica,
    WebProcess,
    environment,
    manage,
    primary_postgres,
    sign_in,
    sql,
)
from tests.e2e.pgbouncer import PgBouncer

pytestmark = pytest.mark.e2e

# Small, so the test sees the fallback soon; far above what one request takes here.
MAX_LAG_SECONDS = 4
HEALTH_TOKEN = "multinode-health-token"
PATIENT_NAMES = [("Rae", "Lindqvist"), ("Tomas", "Okafor"), ("Ines", "Halvorsen")]


@pytest.fixture
def cluster(tmp_path):
    """Every process and server of the cluster, stopped and removed at the end (also when a
    step of the set-up fails: each is registered for clean-up as soon as it exists)."""
    laps = {"start": time.monotonic()}  # step → when it ended, for the duration report
    with contextlib.ExitStack() as stack:
        if rabbitmq.available():
            broker = rabbitmq.RabbitMQ(tmp_path / "broker")
            broker_kind = "rabbitmq"
        else:
            broker = EmbeddedRedis(tmp_path / "broker", port=free_port())
            broker_kind = "redis"
        stack.callback(broker.destroy)
        # The broker starts (RabbitMQ: several seconds) while the database is migrated; the
        # executor's exit waits for it, before the broker's removal.
        broker_started = stack.enter_context(ThreadPoolExecutor(max_workers=1)).submit(
            broker.ensure_running
        )

        primary = primary_postgres(tmp_path / "primary")
        stack.callback(primary.destroy)
        primary.ensure_running()
        primary_url = primary.url()
        laps["primary"] = time.monotonic()

        direct = environment(
            DJANGO_SETTINGS_MODULE="config.settings.test",
            DATABASE_URL=primary_url,
            CELERY_TASK_ALWAYS_EAGER="0",
        )
        manage("migrate", "--verbosity=0", env=direct)
        laps["migrate"] = time.monotonic()
        ids = json.loads(manage("shell", "--verbosity=0", "--command", SEED_COMMAND, env=direct))
        sql(primary_url, "CREATE TABLE multinode_heartbeat (at timestamptz NOT NULL)")

        replica = StreamingReplica(tmp_path / "replica", primary=primary)
        stack.callback(replica.destroy)
        replica.ensure_running()
        assert replica.is_in_recovery()
        laps["seed and replica"] = time.monotonic()

        pooler = PgBouncer(
            tmp_path / "pgbouncer", upstream_host="127.0.0.1", upstream_port=primary.port
        )
        stack.callback(pooler.stop)
        pooler.start()

        broker_started.result()
        laps["pooler and broker"] = time.monotonic()

        database = primary_url.rsplit("/", 1)[1]
        mail_dir = tmp_path / "mail"
        shared = {
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": pooler.url(database),
            "DATABASE_POOLER": "pgbouncer",
            "DATABASE_REPLICA_URL": replica.url(),
            "REPLICA_MAX_LAG_SECONDS": str(MAX_LAG_SECONDS),
            "CELERY_BROKER_URL": broker.url(),
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "STAFF_MFA_REQUIRED": "0",
            "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(mail_dir),
            "REMINDER_SCAN_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
        }
        webs = [
            WebProcess(f"web{n}", env=environment(**shared), log_dir=tmp_path / "logs")
            for n in (1, 2)
        ]
        for web in webs:
            stack.callback(web.stop)
            web.start()

        workers = CeleryProcesses(
            log_dir=tmp_path / "celery", broker_url=broker.url(), env=environment(**shared)
        )
        stack.callback(workers.stop_all)
        workers.start_worker("reminders", concurrency=2, queues="reminders")
        workers.start_worker("default", concurrency=2, queues="celery")
        workers.start_beat()
        for web in webs:
            web.wait_ready()
        laps["processes"] = time.monotonic()

        yield SimpleNamespace(
            primary_url=primary_url,
            pooler=pooler,
            replica=replica,
            webs=webs,
            workers=workers,
            broker_kind=broker_kind,
            mail_dir=mail_dir,
            ids=ids,
            laps=laps,
        )


def census_admitted(api, program: int, day: datetime.date) -> int:
    status, body = api.get(f"/api/v1/reports/census/?program={program}&start={day}&end={day}")
    assert status == 200, body
    (row,) = body["results"]
    return row["days"][0]["admitted"]


def heartbeat(cluster) -> None:
    """A fresh transaction on the primary, replayed by the replica before this returns: the
    replica's lag (the age of its last replayed transaction) starts from about zero."""
    (count,) = sql(
        cluster.primary_url,
        "INSERT INTO multinode_heartbeat VALUES (now()) "
        "RETURNING (SELECT count(*) + 1 FROM multinode_heartbeat)",
    )
    replayed = wait_until(
        lambda: cluster.replica.query("SELECT count(*) FROM multinode_heartbeat")[0] >= count,
        timeout=30,
        interval=0.05,
    )
    assert replayed, "the replica did not replay the heartbeat"


def health_details(api) -> dict:
    """/health/ with the token: the database and the broker answer; the body (with the worker's
    state, the broker's kind and the replica's state)."""
    status, health = api.get("/health/")
    assert health["checks"]["database"] == "ok", health
    assert health["checks"]["broker"] == "ok", health
    assert status == (200 if health["checks"]["worker"] == "ok" else 503), health
    return health


def mails_to(mail_dir, address: str) -> list:
    messages = [
        email.message_from_string(chunk)
        for path in mail_dir.glob("*.log")
        for chunk in path.read_text().split("-" * 79)
        if chunk.strip()
    ]
    return [message for message in messages if message["To"] == address]


def test_admission_step_down_reminder_and_reports_across_nodes(cluster):
    test_started = time.monotonic()
    ids = cluster.ids
    web1, web2 = (web.url for web in cluster.webs)
    admissions = [sign_in(url, ids["users"]["admissions"], STAFF_PASSWORD) for url in (web1, web2)]
    clinician = [sign_in(url, ids["users"]["clinician"], STAFF_PASSWORD) for url in (web2, web1)]
    supervisor = [sign_in(url, ids["users"]["supervisor"], STAFF_PASSWORD) for url in (web1, web2)]
    today = datetime.datetime.now(datetime.UTC).date()

    # Intake and admission (web1, web2), step-down (web2) -----------------------------------------
    patients = []
    for n, (first, last) in enumerate(PATIENT_NAMES):
        status, body = admissions[n % 2].post(
            "/api/v1/patients/",
            {
                "clinic": ids["clinic"],
                "first_name": first,
                "last_name": last,
                "date_of_birth": "1988-05-17",
                "email": f"{first.lower()}@example.org",
                "reminder_channels": ["email"],
            },
        )
        assert status == 201, body
        patients.append(body)
    patient = patients[0]
    status, stay = admissions[1].post(
        "/api/v1/enrollments/",
        {"patient": patient["id"], "program": ids["residential"], "start_date": str(today)},
    )
    assert (status, stay["status"]) == (201, "admitted"), stay
    status, move = clinician[0].post(
        f"/api/v1/enrollments/{stay['id']}/transition/",
        {"to_program": ids["iop"], "date": str(today), "kind": "step_down", "reason": "stable"},
    )
    assert status == 201, move

    # A group session of the IOP starting in 90 minutes: the patient is on its roster, the
    # 2-hour reminder is due at once, the 24-hour one is skipped -------------------------------
    starts_at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=90)
    status, session = clinician[1].post(
        "/api/v1/sessions/",
        {
            "program": ids["iop"],
            "title": "Morning group",
            "kind": "group",
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + datetime.timedelta(hours=3)).isoformat(),
            "location": "Room 2",
        },
    )
    assert status == 201, session

    def reminder_statuses():
        status, body = clinician[0].get(
            f"/api/v1/reminders/?patient={patient['id']}&session={session['id']}"
        )
        assert status == 200, body
        return sorted(row["status"] for row in body["results"])

    sent = wait_until(lambda: reminder_statuses() == ["sent", "skipped"], timeout=60)
    assert sent, (reminder_statuses(), cluster.workers.logs())
    time.sleep(3)  # more beat ticks through both queues: nothing more may go out
    assert reminder_statuses() == ["sent", "skipped"]
    (mail,) = mails_to(cluster.mail_dir, patient["email"])
    assert "Lakeside Health" in mail.get_payload()
    # The reminder tasks ran on the `reminders` worker only; the other queue's worker ran the
    # rest of beat's tasks.
    reminders_log = (cluster.workers.log_dir / "reminders-1.log").read_text()
    default_log = (cluster.workers.log_dir / "default-2.log").read_text()
    assert "Task scheduling.tasks.reminders_dispatch_task[" in reminders_log
    assert "Task scheduling.tasks.reminders_drain_task[" in reminders_log
    assert "Task scheduling.tasks.reminders_" not in default_log
    assert "Task clinic.tasks.alert_deliveries_send_task[" in default_log

    # The reports, read from the replica once replay has caught up ----------------------------
    def reports_show_the_stay():
        if census_admitted(admissions[0], ids["iop"], today) != 1:
            return False
        status, board = clinician[1].get(f"/api/v1/reports/step-down/?program={ids['iop']}")
        assert status == 200, board
        if [row["enrollment"] for row in board["results"]] != [move["to_enrollment"]]:
            return False
        status, continuity = supervisor[1].get(
            f"/api/v1/reports/continuity/?clinic={ids['clinic']}"
        )
        assert status == 200, continuity
        (residential,) = [p for p in continuity["programs"] if p["program"] == ids["residential"]]
        stays = [row for month in residential["months"] for row in month["patients"] or []]
        return [(row["enrollment"], row["transferred"]) for row in stays] == [(stay["id"], True)]

    assert wait_until(reports_show_the_stay, timeout=30)

    # Read FROM the replica: with replay paused, a new admission stays out of the census while
    # the lag is within the limit, and shows once the lag passes it (read from the primary) ----
    health_api = Api(web2, HEALTH_TOKEN)
    log_sizes = [len(web.log(tail=10**7)) for web in cluster.webs]
    newcomer = patients[1]
    # Each web worker trusts its last look at the lag for LAG_CHECK_SECONDS: let those taken
    # while the reports above wrote their audit rows lapse, so every read below looks afresh
    # (or trusts a look taken after the heartbeat).
    time.sleep(LAG_CHECK_SECONDS)
    heartbeat(cluster)
    cluster.replica.pause_replay()
    try:
        paused_at = time.monotonic()
        status, body = admissions[1].post(
            "/api/v1/enrollments/",
            {"patient": newcomer["id"], "program": ids["iop"], "start_date": str(today)},
        )
        assert status == 201, body
        reads = []  # (lag before, admitted, lag after), each read through the other web process
        deadline = time.monotonic() + MAX_LAG_SECONDS + 20
        while time.monotonic() < deadline:
            before = cluster.replica.lag_seconds()
            admitted = census_admitted(admissions[len(reads) % 2], ids["iop"], today)
            reads.append((before, admitted, cluster.replica.lag_seconds()))
            if admitted == 2:
                break
            time.sleep(0.3)
        within_limit = [read for read in reads if read[2] < MAX_LAG_SECONDS]
        assert within_limit, ("no read within the lag limit", reads, time.monotonic() - paused_at)
        assert all(admitted == 1 for _, admitted, _ in within_limit), reads
        assert reads[-1][1] == 2, ("never fell back to the primary", reads)
        # ... and only once the lag had passed the limit.
        assert reads[-1][2] > MAX_LAG_SECONDS, reads
        new_lines = "".join(
            web.log(tail=10**7)[size:] for web, size in zip(cluster.webs, log_sizes, strict=True)
        )
        assert "Reading from the primary: the replica is" in new_lines, new_lines[-3000:]
        # /health/ shows the stale replica (no failure: its reads go to the primary meanwhile).
        health = health_details(health_api)
        assert health["replica"]["state"] == "stale", health
        assert health["replica"]["lag_seconds"] > MAX_LAG_SECONDS, health
    finally:
        cluster.replica.resume_replay()
    heartbeat(cluster)  # replay runs again

    # /health/: the broker's kind and the replica's lag, caught up ----------------------------
    health = health_details(health_api)
    assert health["broker_kind"] == cluster.broker_kind, health
    assert health["replica"]["state"] == "ok", health
    assert health["replica"]["lag_seconds"] <= MAX_LAG_SECONDS, health

    # Every process reached the database through PgBouncer.
    pooler_log = (cluster.pooler.directory / "pgbouncer.log").read_text()
    assert "login attempt: db=continuum" in pooler_log, pooler_log[-2000:]

    # No patient data in any process's log.
    all_logs = "".join(web.log(tail=10**7) for web in cluster.webs) + cluster.workers.logs(10**7)
    for person in patients:
        for value in (person["first_name"], person["last_name"], person["email"]):
            assert value not in all_logs

    names, times = list(cluster.laps), list(cluster.laps.values())
    steps = ", ".join(
        f"{name} {end - begin:.1f}"
        for name, begin, end in zip(names[1:], times, times[1:], strict=False)
    )
    print(
        f"\nmulti-node ({cluster.broker_kind}): set-up {times[-1] - times[0]:.1f} s ({steps}); "
        f"flow {time.monotonic() - test_started:.1f} s; census reads while replay was paused "
        f"(lag before, admitted, lag after): {reads}"
    )
    assert health["checks"]["worker"] == "ok", health
