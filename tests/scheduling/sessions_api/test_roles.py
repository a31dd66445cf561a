"""Who may read and plan sessions over the API."""

import pytest

from tests.scheduling.sessions_api.helpers import SERIES, SESSIONS, body

pytestmark = pytest.mark.django_db


# Roles ----------------------------------------------------------------------------------------


def test_admissions_reads_sessions_but_cannot_plan_them(calendar, client_for, admissions, iop):
    client = client_for(admissions)
    session = calendar["tomorrow"]

    assert client.get(SESSIONS).status_code == 200
    assert client.get(f"{SESSIONS}{session.pk}/").status_code == 200
    assert client.post(SESSIONS, body(iop)).status_code == 403
    assert client.patch(f"{SESSIONS}{session.pk}/", {"location": "x"}).status_code == 403
    assert client.post(f"{SESSIONS}{session.pk}/cancel/").status_code == 403
    assert client.post(SERIES, {}).status_code == 403


def test_a_user_without_a_role_gets_403(calendar, client_for, user_without_role, iop):
    client = client_for(user_without_role)

    assert client.get(SESSIONS).status_code == 403
    assert client.get(SERIES).status_code == 403
    assert client.post(SESSIONS, body(iop)).status_code == 403


def test_no_token_is_a_401(api_client):
    assert api_client.get(SESSIONS).status_code == 401
