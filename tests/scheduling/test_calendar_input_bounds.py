"""Calendar writes refuse bodies and values past what they can hold with a 400 and the error
body: a null body, a series starting years ago, a capacity past the column (found by
Schemathesis: each was a 500 or, for the series, minutes of work)."""

import datetime

import pytest

from scheduling.models import Session
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def test_patching_a_session_with_a_null_body_is_a_400(clinic, clinician, client_for):
    start = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
    session = SessionFactory(
        clinic=clinic,
        actor=clinician,
        title="Group",
        kind="group",
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=3),
    )
    client = client_for(clinician)
    for body in ("null", "[]", '["scope"]'):
        response = client.generic(
            "PATCH", f"/api/v1/sessions/{session.pk}/", body, content_type="application/json"
        )
        assert response.status_code == 400, body
        assert set(response.json()) == {"code", "detail", "fields"}


def test_a_series_cannot_start_years_ago(clinic, clinician, client_for):
    """Not a 500 but minutes of work: a series starting in 2000 created every occurrence since
    (over 9,000 sessions in one request)."""
    body = {
        "clinic": clinic.pk,
        "title": "Group",
        "weekdays": [1, 2, 3, 4, 5, 6, 7],
        "local_start_time": "18:00",
        "duration_minutes": 60,
        "starts_on": "2000-01-01",
    }
    response = client_for(clinician).post("/api/v1/series/", body, format="json")
    assert response.status_code == 400
    assert "starts_on" in response.json()["fields"]
    assert not Session.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/sessions/", "/api/v1/series/"])
def test_a_capacity_past_the_columns_range_is_a_400(clinic, clinician, client_for, path):
    start = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
    end = start + datetime.timedelta(hours=2)
    body = {"title": "Group", "kind": "group", "capacity": 4_098_911_925}
    if path.endswith("sessions/"):
        body |= {"starts_at": start.isoformat(), "ends_at": end.isoformat()}
    else:
        body |= {"weekdays": [2], "local_start_time": "18:00", "duration_minutes": 90}
        body["starts_on"] = start.date().isoformat()

    response = client_for(clinician).post(path, body, format="json")

    assert response.status_code == 400
    assert "capacity" in response.json()["fields"]
