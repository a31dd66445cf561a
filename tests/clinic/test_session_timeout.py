"""Automatic log-off (HIPAA §164.312(a)(2)(iii), issue 19 item 7): an admin session ends after
`SESSION_IDLE_MINUTES` (15) without a request and 12 hours after sign-in whatever the activity."""

import datetime

import pytest
import time_machine

from tests.factories import admin_login

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 1, 8, tzinfo=datetime.UTC)
PAGE = "/admin/password_change/"  # any admin page; this one is light


@pytest.fixture
def traveller():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def signed_in(client, clinician, traveller):
    clinician.is_staff = True
    clinician.save(update_fields=["is_staff"])
    admin_login(client, clinician)
    assert client.get(PAGE).status_code == 200
    return client


def logged_off(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_sixteen_idle_minutes_end_the_session(signed_in, traveller):
    traveller.shift(datetime.timedelta(minutes=16))

    assert logged_off(signed_in.get(PAGE))
    # Gone, not merely refused once.
    assert logged_off(signed_in.get(PAGE))
    assert signed_in.get("/api/v1/clinics/").status_code == 401


def test_fourteen_idle_minutes_do_not(signed_in, traveller):
    traveller.shift(datetime.timedelta(minutes=14))

    assert signed_in.get(PAGE).status_code == 200


def test_activity_keeps_it_alive_until_twelve_hours_after_sign_in(signed_in, traveller):
    # A request every 10 minutes, up to 11:50 after sign-in.
    for _ in range(71):
        traveller.shift(datetime.timedelta(minutes=10))
        assert signed_in.get(PAGE).status_code == 200

    # 12:01 after sign-in, 11 minutes after the last request: the absolute limit ends it.
    traveller.shift(datetime.timedelta(minutes=11))
    assert logged_off(signed_in.get(PAGE))


def test_the_idle_limit_comes_from_the_settings(signed_in, traveller, settings):
    settings.SESSION_IDLE_MINUTES = 5
    traveller.shift(datetime.timedelta(minutes=6))

    assert logged_off(signed_in.get(PAGE))
