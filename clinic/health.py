"""``GET /health/``: 200 when the database, the broker and a worker answer; 503 naming what fails.

The checks are django-health-check's; this view only names them and shapes the body like every
other error of the service.
"""

import asyncio
import datetime

from django.conf import settings
from django.http import JsonResponse
from health_check.checks import Database
from health_check.contrib.celery import Ping
from health_check.contrib.redis import Redis
from health_check.views import HealthCheckView
from redis.asyncio import Redis as AsyncRedis

from clinic.api.errors import error_body
from config.celery import app as celery_app


def _broker_client():
    return AsyncRedis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


class HealthView(HealthCheckView):
    # (part name, check) in the order they are reported.
    parts = (
        ("database", Database, {}),
        ("broker", Redis, {"client_factory": _broker_client}),
        # limit=1: answer as soon as one worker replies instead of waiting out the timeout.
        ("worker", Ping, {"app": celery_app, "limit": 1, "timeout": datetime.timedelta(seconds=2)}),
    )

    def get_checks(self):
        for _name, check, options in self.parts:
            yield check(**options)

    async def get(self, request, *args, **kwargs):
        with self.get_executor() as executor:
            results = await asyncio.gather(
                *(check.get_result(executor) for check in self.get_checks())
            )
        checks = {
            name: "ok" if result.error is None else f"unavailable: {result.error}"
            for (name, _check, _options), result in zip(self.parts, results, strict=True)
        }
        failing = [name for name, state in checks.items() if state != "ok"]
        if not failing:
            return JsonResponse({"status": "ok", "checks": checks})
        body = error_body("unhealthy", "Unavailable: " + ", ".join(failing) + ".")
        body["checks"] = checks
        return JsonResponse(body, status=503)
