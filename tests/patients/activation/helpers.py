"""What the modules of activation/ share: constants and helpers."""

import datetime
import random

import time_machine
from rest_framework.test import APIClient

from patients import activation

NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
BIRTH = datetime.date(1988, 4, 9)
PASSWORD = "quiet-river-morning-42"
REFUSED = {
    "code": "activation_failed",
    "detail": activation.ActivationRefused.DETAIL,
    "fields": {},
}


def anonymous():
    """A client of its own address, so that throttles of other tests never count against it."""
    return APIClient(REMOTE_ADDR=f"10.{random.randrange(256)}.{random.randrange(256)}.7")


def issue(client, patient):
    return client.post(f"/api/v1/patients/{patient.pk}/activation/")


def activate(code, *, date_of_birth=BIRTH, username="robin-app", password=PASSWORD, client=None):
    return (client or anonymous()).post(
        "/api/v1/auth/activate/",
        {
            "activation_code": code,
            "date_of_birth": date_of_birth.isoformat()
            if isinstance(date_of_birth, datetime.date)
            else date_of_birth,
            "username": username,
            "password": password,
        },
    )


def bearer(access):
    client = anonymous()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


# One answer for every refusal --------------------------------------------------------------------


def refuse_unknown(code, staff, patient):
    return activate("ABCD-EFGH-JKMN")


def refuse_malformed(code, staff, patient):
    return activate("not a code at all")


def refuse_wrong_birth_date(code, staff, patient):
    return activate(code, date_of_birth=BIRTH + datetime.timedelta(days=1))


def refuse_used(code, staff, patient):
    assert activate(code, username="first-one").status_code == 201
    return activate(code, username="second-one")


def refuse_expired(code, staff, patient):
    with time_machine.travel(datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=4)):
        return activate(code)


def refuse_locked(code, staff, patient):
    for _ in range(5):
        activate(code, date_of_birth=datetime.date(1970, 1, 1))
    return activate(code)  # the right date of birth, too late


def refuse_replaced(code, staff, patient):
    assert issue(staff, patient).status_code == 201
    return activate(code)


def refuse_revoked(code, staff, patient):
    assert staff.post(f"/api/v1/patients/{patient.pk}/app-access/revoke/").status_code == 204
    return activate(code)


REFUSALS = [
    refuse_unknown,
    refuse_malformed,
    refuse_wrong_birth_date,
    refuse_used,
    refuse_expired,
    refuse_locked,
    refuse_replaced,
    refuse_revoked,
]
