"""``GET /health/``: 200 when the database, the broker and a worker answer; 503 otherwise.

Anyone may ask (orchestrators probe it without credentials) and gets the status alone:
``{"status": "ok"}`` or the error body with no part named. Staff signed in to the admin, or a
caller with ``Authorization: Bearer <HEALTH_CHECK_TOKEN>``, also get each part's state
(``checks``) and the failing parts named, the broker's kind (``broker_kind``: ``redis`` or
``rabbitmq``, from ``CELERY_BROKER_URL``) and the read replica's state and lag (``replica``,
see ``clinic.replica.replica_status``). A stale or unreachable replica is shown, not failed:
its reads go to the primary meanwhile.

The worker check broadcasts a ping over the broker to every worker. An anonymous caller must not
make one per request, so anonymous answers use the last worker state, checked again at most once
every ``HEALTH_WORKER_CHECK_SECONDS`` by whichever request comes first (a key in the shared
cache decides which); an authorised caller checks it each time. The database and broker checks
are one round trip each and always run.

The checks are django-health-check's; this view only names them and shapes the body like every
other error of the service.
"""

import asyncio
import contextlib
import dataclasses
import datetime
import hmac

import kombu
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.http import JsonResponse
from health_check.base import HealthCheck
from health_check.checks import Database
from health_check.contrib.celery import Ping
from health_check.contrib.redis import Redis
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

from clinic.api.errors import error_body
from clinic.replica import replica_status
from config.brokers import broker_kind
from config.celery import app as celery_app

WORKER_STATE_KEY = "health:worker-state"
# Present while the last worker check is fresh; whoever adds it checks again.
WORKER_CHECKED_KEY = "health:worker-checked"
NOT_CHECKED_YET = "unavailable: not checked yet"


def _broker_client():
    return AsyncRedis.from_url(
        settings.CELERY_BROKER_URL, socket_connect_timeout=2, socket_timeout=2
    )


@dataclasses.dataclass
class AmqpBroker(HealthCheck):
    """RabbitMQ answers: a connection opened (the AMQP handshake) and closed, through kombu,
    the client Celery itself uses."""

    url: str = dataclasses.field(repr=False)
    timeout = datetime.timedelta(seconds=2)

    def run(self):
        connection = kombu.Connection(self.url, connect_timeout=self.timeout.total_seconds())
        try:
            connection.connect()
        except (*connection.connection_errors, OSError) as error:
            message = f"Unable to connect to RabbitMQ ({type(error).__name__})"
            raise ServiceUnavailable(message) from error
        finally:
            connection.release()


def _broker_check():
    if broker_kind(settings.CELERY_BROKER_URL) == "rabbitmq":
        return AmqpBroker, {"url": settings.CELERY_BROKER_URL}
    return Redis, {"client_factory": _broker_client}


class WorkerForEveryQueue(Ping):
    """Ping's check, with workers that may each consume some queues only (``-Q reminders``,
    ``-Q celery``): when the first replies leave a queue without a worker, every worker is asked
    (the whole timeout) before the queue is called unserved."""

    def check_active_queues(self, *active_workers):
        try:
            super().check_active_queues(*active_workers)
        except ServiceUnavailable:
            if self.limit is None:
                raise
            every_worker = self.app.control.ping(timeout=self.timeout.total_seconds())
            super().check_active_queues(*self.active_workers(every_worker))


def _state(result) -> str:
    return "ok" if result.error is None else f"unavailable: {result.error}"


async def _authorised(request) -> bool:
    """Whether the caller may see the parts: a staff session of the admin, or the token."""
    token = settings.HEALTH_CHECK_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode()):
        return True
    try:
        user = await request.auser()
    except DatabaseError:
        return False  # the session cannot be read while the database is down
    return user.is_active and user.is_staff


class HealthView(HealthCheckView):
    def parts(self):
        """(part name, check, options) in the order they are reported."""
        return (("database", Database, {}), ("broker", *_broker_check()))

    # limit=1: answer as soon as one worker replies instead of waiting out the timeout (unless
    # that worker leaves a queue unserved).
    worker = (
        WorkerForEveryQueue,
        {"app": celery_app, "limit": 1, "timeout": datetime.timedelta(seconds=2)},
    )

    async def _worker_check(self, executor) -> str:
        check, options = self.worker
        state = _state(await check(**options).get_result(executor))
        with contextlib.suppress(RedisError):  # then the next caller checks again
            await cache.aset(
                WORKER_STATE_KEY, state, timeout=10 * settings.HEALTH_WORKER_CHECK_SECONDS
            )
        return state

    async def _worker_state_cached(self, executor) -> str:
        try:
            claimed = await cache.aadd(
                WORKER_CHECKED_KEY, 1, timeout=settings.HEALTH_WORKER_CHECK_SECONDS
            )
            if not claimed:
                return await cache.aget(WORKER_STATE_KEY, NOT_CHECKED_YET)
        except RedisError:
            return "unavailable: cache unreachable"
        return await self._worker_check(executor)

    async def get(self, request, *args, **kwargs):
        authorised = await _authorised(request)
        parts = self.parts()
        with self.get_executor() as executor:
            results = await asyncio.gather(
                *(check(**options).get_result(executor) for _name, check, options in parts)
            )
            checks = {
                name: _state(result)
                for (name, _check, _options), result in zip(parts, results, strict=True)
            }
            if checks["broker"] != "ok":
                # No worker can be reached without the broker (nor the cache, when the broker is
                # the same Redis).
                checks["worker"] = "unavailable: no broker"
            elif authorised:
                checks["worker"] = await self._worker_check(executor)
            else:
                checks["worker"] = await self._worker_state_cached(executor)
        failing = [name for name, state in checks.items() if state != "ok"]
        if not authorised:
            if not failing:
                return JsonResponse({"status": "ok"})
            return JsonResponse(error_body("unhealthy", "The service is unavailable."), status=503)
        details = {
            "checks": checks,
            "broker_kind": broker_kind(settings.CELERY_BROKER_URL),
            "replica": await sync_to_async(replica_status)(),
        }
        if not failing:
            return JsonResponse({"status": "ok", **details})
        body = error_body("unhealthy", "Unavailable: " + ", ".join(failing) + ".")
        return JsonResponse({**body, **details}, status=503)
