"""GET /health/ names the failing part with a 503 (a 200 with a real worker is in tests/e2e)."""

import pytest

from config import embedded

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_redis(tmp_path, settings):
    """A Redis of this test's own, so stopping it harms no other test."""
    server = embedded.EmbeddedRedis(tmp_path / "redis", port=embedded.free_port())
    server.ensure_running()
    settings.REDIS_URL = server.url()
    yield server
    server.destroy()


def test_health_is_public_json_and_names_each_part(client):
    response = client.get("/health/")

    body = response.json()
    assert set(body["checks"]) == {"database", "broker", "worker"}
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"] == "ok"


def test_health_is_503_naming_the_worker_when_none_runs(client):
    # The test suite runs no worker (tasks run eagerly).
    response = client.get("/health/")

    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "unhealthy"
    assert body["fields"] == {}
    assert "worker" in body["detail"]
    assert body["checks"]["worker"].startswith("unavailable")


def test_health_is_503_naming_the_broker_when_redis_stops(client, own_redis):
    assert client.get("/health/").json()["checks"]["broker"] == "ok"

    own_redis.stop()
    response = client.get("/health/")

    assert response.status_code == 503
    body = response.json()
    assert "broker" in body["detail"]
    assert body["checks"]["broker"].startswith("unavailable")
    assert body["checks"]["database"] == "ok"
    assert response.headers["Cache-Control"].startswith("max-age=0")
