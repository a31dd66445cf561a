"""Series over the API: the program's cadence and session length, expansion, rosters, double
bookings."""

import datetime

import pytest

from scheduling.models import RosterEntry, Series, Session
from tests.factories import ProgramFactory, SessionFactory
from tests.scheduling.sessions_api.helpers import NY, SERIES, SESSIONS, local_start, series_body

pytestmark = pytest.mark.django_db


def test_an_iop_series_meeting_twice_a_week_is_refused_naming_the_cadence(
    frozen_time, client_for, clinician, iop
):
    response = client_for(clinician).post(SERIES, series_body(iop, weekdays=[1, 3]), format="json")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["weekdays"]
    assert "3–5 times a week" in response.json()["detail"]
    assert not Series.objects.exists()


def test_an_iop_series_of_five_hour_sessions_is_refused_naming_the_length(
    frozen_time, client_for, clinician, iop
):
    response = client_for(clinician).post(
        SERIES, series_body(iop, duration_minutes=300), format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["duration_minutes"]
    message = response.json()["fields"]["duration_minutes"][0]
    assert "sessions last 3" in message
    assert "hours; this series gives 5" in message
    assert not Series.objects.exists()


def test_a_series_outside_a_programs_one_sided_length_bound_is_a_400(
    frozen_time, client_for, clinician, clinic
):
    """Bug in programs.services.schedules.check_series_against_program: a program with only a
    maximum session length formats the missing minimum with ``:g`` and raises TypeError (500)."""
    program = ProgramFactory(
        clinic=clinic, name="Short groups", session_hours_min=None, level="iop", capacity=10
    )

    response = client_for(clinician).post(
        SERIES, series_body(program, duration_minutes=300), format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["duration_minutes"]


def test_a_valid_iop_series_creates_its_sessions_and_rosters(
    frozen_time, client_for, clinician, iop, enrolled, room
):
    response = client_for(clinician).post(
        SERIES, series_body(iop, room=room.pk, facilitator=clinician.pk), format="json"
    )

    assert response.status_code == 201, response.content
    data = response.json()
    # Mon/Wed/Fri from 2026-12-07 to 2026-12-20: six sessions.
    assert data["sessions_created"] == 6
    assert (data["program"], data["weekdays"], data["local_start_time"]) == (
        iop.pk,
        [1, 3, 5],
        "18:00:00",
    )
    sessions = Session.objects.filter(series_id=data["id"])
    assert sessions.count() == 6
    assert {local_start(s) for s in sessions} == {datetime.time(18)}
    assert {(s.room_id, s.facilitator_id) for s in sessions} == {(room.pk, clinician.pk)}
    assert RosterEntry.objects.filter(session__in=sessions).count() == 12
    assert set(RosterEntry.objects.values_list("patient_id", flat=True)) == {p.pk for p in enrolled}


def test_a_series_without_a_program_is_created_and_expanded(
    frozen_time, client_for, supervisor, clinic
):
    response = client_for(supervisor).post(
        SERIES, series_body(kind="education", weekdays=[2]), format="json"
    )

    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["clinic"], data["program"], data["sessions_created"]) == (clinic.pk, None, 2)
    assert client_for(supervisor).get(SERIES).json()["results"][0]["id"] == data["id"]
    listed = client_for(supervisor).get(SESSIONS, {"series": data["id"]}).json()["results"]
    assert [row["kind"] for row in listed] == ["education", "education"]


def test_a_series_whose_sessions_double_book_a_room_is_a_409_and_leaves_nothing(
    frozen_time, client_for, clinician, clinic, room
):
    # Monday 2026-12-07 19:00 New York, in the middle of the series' first session.
    start = datetime.datetime(2026, 12, 7, 19, tzinfo=NY)
    SessionFactory(clinic=clinic, actor=clinician, starts_at=start, room=room)

    response = client_for(clinician).post(SERIES, series_body(room=room.pk), format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "room_double_booked"
    assert not Series.objects.exists()


def test_another_clinics_series_is_not_found(weekly, client_for, stranger):
    assert client_for(stranger).get(f"{SERIES}{weekly.pk}/").status_code == 404
    assert client_for(stranger).get(SERIES).json()["results"] == []
