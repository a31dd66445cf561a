"""What the modules of devices/ share: constants and helpers."""

import datetime
import itertools
import zoneinfo

import time_machine

from clinic.models import AuditEvent
from clinic.notifications import ChannelError, DeliveryResult
from scheduling.models import Device

NY = zoneinfo.ZoneInfo("America/New_York")
BASE = "/api/v1/me/devices/"
DEVICE_KEYS = {"id", "platform", "created_at", "last_seen_at"}


def at(month, day, hour, minute=0):
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=NY)


NOW = at(12, 1, 10)
frozen = time_machine.travel(NOW, tick=False)


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


# A push provider for these tests ------------------------------------------------------------------


class FakePushBackend:
    """Records each notification; a token listed in ``failures`` raises that error instead."""

    sent: list[dict] = []
    failures: dict[str, ChannelError] = {}
    _ids = itertools.count(1)

    def send(self, token, platform, title, body, data):
        if token in self.failures:
            raise self.failures[token]
        self.sent.append({"token": token, "platform": platform, "title": title, "body": body})
        return DeliveryResult(provider_message_id=f"fake-{next(self._ids)}")


def unregistered():
    return ChannelError(
        "FCM answered HTTP 404 (UNREGISTERED).", retryable=False, code="UNREGISTERED"
    )


def unavailable():
    return ChannelError("FCM answered HTTP 503.", retryable=True)


ANAS_PHONE = "fcm-token-ana-1"


def register(client, token=ANAS_PHONE, platform="android"):
    return client.post(BASE, {"platform": platform, "token": token}, format="json")


def device_audits(**filters):
    return AuditEvent.objects.filter(object_type="scheduling.device", **filters)


# At most DEVICES_PER_PATIENT ---------------------------------------------------------------------


def register_on(day: int, client, token: str):
    with time_machine.travel(at(12, day, 10), tick=False):
        response = register(client, token)
    assert response.status_code in (200, 201), response.content
    return response.json()["id"]


# Push delivery ------------------------------------------------------------------------------------

SESSION_START = at(12, 4, 18)
DUE = at(12, 3, 18, 1)  # the 24-hour reminder is due


def add_device(patient, token, platform="android"):
    return Device.objects.create(patient=patient, token=token, platform=platform)


def invalid_token():
    # What FCMPushBackend raises for an INVALID_ARGUMENT that FCM pins on the token.
    return ChannelError(
        "FCM answered HTTP 400 (INVALID_TOKEN).", retryable=False, code="INVALID_TOKEN"
    )
