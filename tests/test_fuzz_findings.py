"""Regression tests for what the Schemathesis fuzzing found (tests/test_schemathesis.py).

Each was a 500 or, for the series, minutes of work; each is now a 4xx with the usual error
body, or an answer.
"""

import datetime

import pytest

from scheduling.models import Session
from tests.factories import PatientFactory, SessionFactory, app_account

pytestmark = pytest.mark.django_db

# Python reads UTC offsets up to ±23:59; PostgreSQL refuses any past ±15:59 in a query.
FAR_OFFSET = "2026-12-01T10:00:00-23:30"
# The same instant in UTC, for checking that such an offset is read right.
FAR_OFFSET_UTC = datetime.datetime(2026, 12, 2, 9, 30, tzinfo=datetime.UTC)


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


def test_assessment_filter_takes_any_utc_offset(clinic, admissions, client_for):
    client = client_for(admissions)
    response = client.get("/api/v1/assessments/", {"assessed_after": FAR_OFFSET})
    assert response.status_code == 200
    # An instant out of range once in UTC is a 400, not an overflow.
    response = client.get("/api/v1/assessments/", {"assessed_after": "0001-01-01T00:00:00+05:00"})
    assert response.status_code == 400
    assert "assessed_after" in response.json()["fields"]


def test_session_filter_takes_any_utc_offset(clinic, clinician, client_for):
    start = FAR_OFFSET_UTC - datetime.timedelta(hours=1)
    session = SessionFactory(
        clinic=clinic,
        actor=clinician,
        title="Group",
        kind="group",
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=3),
    )
    client = client_for(clinician)
    before = client.get("/api/v1/sessions/", {"starts_before": FAR_OFFSET})
    after = client.get("/api/v1/sessions/", {"starts_after": FAR_OFFSET})
    assert before.status_code == after.status_code == 200
    assert [row["id"] for row in before.json()["results"]] == [session.pk]
    assert after.json()["results"] == []
    response = client.get("/api/v1/sessions/", {"starts_after": "0001-01-01T00:00:00+05:00"})
    assert response.status_code == 400


def test_my_schedule_takes_any_utc_offset_and_far_dates(clinic, admissions, client_for):
    patient = PatientFactory(clinic=clinic, actor=admissions, first_name="Ana")
    client = client_for(app_account(patient))
    response = client.get("/api/v1/me/schedule/", {"start": FAR_OFFSET})
    assert response.status_code == 200
    for query in (
        {"start": "9999-12-31"},
        {"end": "9999-12-31"},
        {"start": "9999-12-31T23:00:00Z"},
        {"start": "0001-01-01T00:00:00+05:00"},
    ):
        response = client.get("/api/v1/me/schedule/", query)
        assert response.status_code == 400, query
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
