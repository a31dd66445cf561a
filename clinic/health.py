"""``GET /health/``: 200 when the database, the broker and a worker answer; 503 otherwise.

Anyone may ask (orchestrators probe it without credentials) and gets the status alone:
``{"status": "ok"}`` or the error body with no part named. Staff signed in to the admin, or a
caller with ``Authorization: Bearer <HEALTH_CHECK_TOKEN>``, also get each part's state
(``checks``) and the failing parts named.

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
import datetime
import hmac

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.http import JsonResponse
from health_check.checks import Database
from health_check.contrib.celery import Ping
from health_check.contrib.redis import Redis
from health_check.views import HealthCheckView
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

from clinic.api.errors import error_body
from config.celery import app as celery_app

WORKER_STATE_KEY = "health:worker-state"
# Present while the last worker check is fresh; whoever adds it checks again.
WORKER_CHECKED_KEY = "health:worker-checked"
NOT_CHECKED_YET = "unavailable: not checked yet"


def _broker_client():
    return AsyncRedis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


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
    # (part name, check) in the order they are reported.
    parts = (
        ("database", Database, {}),
        ("broker", Redis, {"client_factory": _broker_client}),
    )
    # limit=1: answer as soon as one worker replies instead of waiting out the timeout.
    worker = (Ping, {"app": celery_app, "limit": 1, "timeout": datetime.timedelta(seconds=2)})

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
        with self.get_executor() as executor:
            results = await asyncio.gather(
                *(check(**options).get_result(executor) for _name, check, options in self.parts)
            )
            checks = {
                name: _state(result)
                for (name, _check, _options), result in zip(self.parts, results, strict=True)
            }
            if checks["broker"] != "ok":
                # No worker can be reached without the broker (nor the cache, the same Redis).
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
        if not failing:
            return JsonResponse({"status": "ok", "checks": checks})
        body = error_body("unhealthy", "Unavailable: " + ", ".join(failing) + ".")
        body["checks"] = checks
        return JsonResponse(body, status=503)
