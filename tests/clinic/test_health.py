"""GET /health/: the status for anyone, each part named only for staff or the health token (with
the broker's kind and the replica's lag), and no worker ping per anonymous request (a 200 with a
real worker is in tests/e2e)."""

import time
import types

import pytest
from health_check.contrib.celery import Ping
from health_check.exceptions import ServiceUnavailable

from clinic import health
from config import embedded
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "health-token-for-the-tests-0123456789"


@pytest.fixture(autouse=True)
def health_settings(settings):
    settings.HEALTH_CHECK_TOKEN = TOKEN
    # Each test its own cache keys (the worker state is shared through the cache).
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "KEY_PREFIX": f"{settings.CACHES['default']['KEY_PREFIX']}-{time.monotonic_ns()}",
        }
    }


@pytest.fixture
def worker(monkeypatch):
    """The worker ping, counted; ``worker.up`` says whether it answers."""

    class Worker:
        up = True
        pings = 0

    def run(check):
        Worker.pings += 1
        if not Worker.up:
            raise ServiceUnavailable("Celery workers unavailable")

    monkeypatch.setattr(Ping, "run", run)
    return Worker


@pytest.fixture
def own_redis(tmp_path, settings):
    """A Redis of this test's own, so stopping it harms no other test."""
    server = embedded.EmbeddedRedis(tmp_path / "redis", port=embedded.free_port())
    server.ensure_running()
    settings.REDIS_URL = settings.CELERY_BROKER_URL = server.url()
    yield server
    server.destroy()


def with_token(client, token=TOKEN):
    return client.get("/health/", HTTP_AUTHORIZATION=f"Bearer {token}")


# Anyone -------------------------------------------------------------------------------------------


def test_anyone_gets_the_status_alone(client, worker):
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_anyone_gets_a_503_that_names_no_part(client, worker):
    worker.up = False

    response = client.get("/health/")

    assert response.status_code == 503
    assert response.json() == {
        "code": "unhealthy",
        "detail": "The service is unavailable.",
        "fields": {},
    }


def test_anonymous_requests_ping_the_workers_at_most_once_per_interval(client, worker, settings):
    settings.HEALTH_WORKER_CHECK_SECONDS = 1

    codes = {client.get("/health/").status_code for _ in range(20)}

    assert codes == {200}
    assert worker.pings == 1
    # The worker stops: anonymous callers learn it at the next check, not before.
    worker.up = False
    assert client.get("/health/").status_code == 200
    time.sleep(1.1)
    assert client.get("/health/").status_code == 503
    assert worker.pings == 2


def test_a_wrong_token_or_a_user_who_is_not_staff_gets_the_status_alone(client, worker):
    assert with_token(client, "not-the-token").json() == {"status": "ok"}
    client.force_login(UserFactory())
    assert client.get("/health/").json() == {"status": "ok"}


def test_no_token_is_accepted_when_none_is_set(client, worker, settings):
    settings.HEALTH_CHECK_TOKEN = ""

    assert client.get("/health/", HTTP_AUTHORIZATION="Bearer ").json() == {"status": "ok"}


# Staff and the token ------------------------------------------------------------------------------


def test_the_token_shows_each_part_and_checks_the_worker_each_time(client, worker):
    responses = [with_token(client) for _ in range(3)]

    assert [r.status_code for r in responses] == [200] * 3
    assert responses[0].json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "worker": "ok"},
        "broker_kind": "redis",
        "replica": {"state": "not configured"},
    }
    assert worker.pings == 3


def test_staff_signed_in_to_the_admin_see_each_part(client, worker):
    client.force_login(UserFactory(is_staff=True))

    assert set(client.get("/health/").json()["checks"]) == {"database", "broker", "worker"}


def test_health_is_503_naming_the_worker_when_none_runs(client):
    # The test suite runs no worker (tasks run eagerly): the real ping finds none.
    response = with_token(client)

    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "unhealthy"
    assert body["fields"] == {}
    assert "worker" in body["detail"]
    assert body["checks"]["worker"].startswith("unavailable")
    assert body["checks"]["database"] == "ok"


def test_health_is_503_naming_the_broker_when_redis_stops(client, own_redis, worker):
    assert with_token(client).json()["checks"]["broker"] == "ok"

    own_redis.stop()
    response = with_token(client)

    assert response.status_code == 503
    body = response.json()
    assert "broker" in body["detail"]
    assert body["checks"]["broker"].startswith("unavailable")
    assert body["checks"]["database"] == "ok"
    assert response.headers["Cache-Control"].startswith("max-age=0")
    # Anyone learns only that it is down.
    assert client.get("/health/").json()["detail"] == "The service is unavailable."


# The broker's kind and the replica ---------------------------------------------------------------

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"


def test_a_rabbitmq_broker_is_checked_over_amqp(client, worker, settings):
    settings.CELERY_BROKER_URL = RABBITMQ_URL

    body = with_token(client).json()

    assert body["broker_kind"] == "rabbitmq"
    assert body["checks"]["broker"] == "ok"


def test_a_rabbitmq_broker_that_does_not_answer_is_named(client, worker, settings):
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{embedded.free_port()}//"

    response = with_token(client)

    assert response.status_code == 503
    body = response.json()
    assert body["broker_kind"] == "rabbitmq"
    assert body["checks"]["broker"].startswith("unavailable")
    assert "Unable to connect to RabbitMQ" in body["checks"]["broker"]
    assert body["checks"]["worker"] == "unavailable: no broker"
    assert client.get("/health/").json()["detail"] == "The service is unavailable."


@pytest.mark.django_db(databases=["default", "replica"])
def test_the_replica_s_lag_is_shown(client, worker, replica_alias):
    body = with_token(client).json()

    # The test's replica is the primary itself: no lag.
    assert body["replica"] == {"state": "ok", "lag_seconds": 0.0, "max_lag_seconds": 30}
    assert client.get("/health/").json() == {"status": "ok"}


@pytest.mark.django_db(databases=["default", "replica"])
def test_a_stale_replica_is_shown_but_the_service_stays_healthy(
    client, worker, replica_alias, monkeypatch, settings
):
    settings.REPLICA_MAX_LAG_SECONDS = 5
    monkeypatch.setattr("clinic.replica.replica_lag", lambda now: 12.34)

    response = with_token(client)

    assert response.status_code == 200
    assert response.json()["replica"] == {
        "state": "stale",
        "lag_seconds": 12.3,
        "max_lag_seconds": 5,
    }


# Transactional: the test case's transaction would hold the replica's first connection open.
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_an_unreachable_replica_is_shown_but_the_service_stays_healthy(
    client, worker, unreachable_replica
):
    response = with_token(client)

    assert response.status_code == 200
    assert response.json()["replica"] == {
        "state": "unreachable",
        "lag_seconds": None,
        "max_lag_seconds": 30,
    }


# Workers on queues of their own -------------------------------------------------------------------


class SplitWorkers:
    """A Celery app's control, as seen by the check: ``reminders@a`` consumes `reminders`,
    ``default@b`` consumes `celery`; the first ping reply is always ``reminders@a``'s."""

    def __init__(self, workers):
        self.workers = workers  # name -> queues
        self.conf = types.SimpleNamespace(
            task_queues=[types.SimpleNamespace(name=n) for n in ("celery", "reminders")],
            task_default_queue="celery",
        )
        self.control = self
        self.pings = []

    def ping(self, timeout, limit=None):
        self.pings.append(limit)
        replies = [{name: {"ok": "pong"}} for name in self.workers]
        return replies[:limit] if limit else replies

    def inspect(self, destination):
        workers = self.workers
        return types.SimpleNamespace(
            active_queues=lambda: {
                name: [{"name": q} for q in workers[name]] for name in destination
            }
        )


def test_workers_on_separate_queues_are_healthy_when_every_queue_has_one():
    app = SplitWorkers({"reminders@a": ["reminders"], "default@b": ["celery"]})

    health.WorkerForEveryQueue(app=app, limit=1).run()

    # The first reply left `celery` unserved, so every worker was asked.
    assert app.pings == [1, None]


def test_a_queue_no_worker_consumes_is_named():
    app = SplitWorkers({"reminders@a": ["reminders"], "reminders@b": ["reminders"]})

    with pytest.raises(ServiceUnavailable, match="No worker for Celery task queue celery"):
        health.WorkerForEveryQueue(app=app, limit=1).run()


def test_one_worker_of_every_queue_answers_at_its_first_reply():
    app = SplitWorkers({"all@a": ["celery", "reminders"], "all@b": ["celery", "reminders"]})

    health.WorkerForEveryQueue(app=app, limit=1).run()

    assert app.pings == [1]
