"""Moving and cancelling sessions, and editing one occurrence, the following ones or all of a
series."""

import datetime

import pytest

from clinic.models import Room
from scheduling import services
from scheduling.models import Session
from tests.factories import SessionFactory
from tests.scheduling.sessions_api.helpers import (
    SERIES,
    SESSIONS,
    at,
    iso,
    local_start,
    occurrences_of,
    parse,
    series_body,
)

pytestmark = pytest.mark.django_db


# Moving, cancelling, series edits -------------------------------------------------------------


def test_moving_a_session_keeps_its_length_and_bumps_its_sequence(
    calendar, client_for, clinician, room
):
    session = calendar["tomorrow"]

    response = client_for(clinician).patch(
        f"{SESSIONS}{session.pk}/",
        {"starts_at": iso(at(days=1, hours=2)), "location": "Annex", "room": room.pk},
        format="json",
    )

    assert response.status_code == 200, response.content
    data = response.json()
    assert parse(data["starts_at"]) == at(days=1, hours=2)
    assert parse(data["ends_at"]) == at(days=1, hours=5)
    assert (data["location"], data["room"], data["sequence"]) == ("Annex", room.pk, 1)


def test_a_move_refuses_unknown_fields_and_another_clinics_room(
    calendar, client_for, clinician, other_clinic
):
    session = calendar["tomorrow"]
    far_room = Room.objects.create(clinic=other_clinic, name="Far room")
    client = client_for(clinician)

    unknown = client.patch(f"{SESSIONS}{session.pk}/", {"title": "New"}, format="json")
    far = client.patch(f"{SESSIONS}{session.pk}/", {"room": far_room.pk}, format="json")
    empty = client.patch(f"{SESSIONS}{session.pk}/", {}, format="json")

    assert (unknown.status_code, list(unknown.json()["fields"])) == (400, ["title"])
    assert (far.status_code, list(far.json()["fields"])) == (400, ["room"])
    assert empty.status_code == 400


def test_moving_onto_a_clinicians_other_session_is_a_409(
    frozen_time, client_for, clinician, clinic
):
    SessionFactory(clinic=clinic, actor=clinician, starts_at=at(days=1), facilitator=clinician)
    later = SessionFactory(
        clinic=clinic, actor=clinician, starts_at=at(days=2), facilitator=clinician
    )

    response = client_for(clinician).patch(
        f"{SESSIONS}{later.pk}/", {"starts_at": iso(at(days=1, hours=1))}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "clinician_double_booked"


def test_cancelling_a_session(calendar, client_for, clinician):
    session = calendar["tomorrow"]
    client = client_for(clinician)

    response = client.post(f"{SESSIONS}{session.pk}/cancel/")
    again = client.post(f"{SESSIONS}{session.pk}/cancel/")
    moved = client.patch(f"{SESSIONS}{session.pk}/", {"location": "x"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state")
    assert moved.status_code == 409


def test_editing_this_occurrence_detaches_it(weekly, client_for, clinician):
    target = occurrences_of(weekly)[3]

    response = client_for(clinician).patch(
        f"{SESSIONS}{target.pk}/",
        {"scope": "this", "local_start_time": "17:00", "title": "Skills (moved)"},
        format="json",
    )

    assert response.status_code == 200, response.content
    after = occurrences_of(weekly)
    assert [local_start(s) for s in after] == [datetime.time(18)] * 3 + [datetime.time(17)] + [
        datetime.time(18)
    ] * 4
    assert after[3].detached
    assert after[3].title == "Skills (moved)"
    weekly.refresh_from_db()
    assert weekly.local_start_time == datetime.time(18)


def test_editing_this_and_the_following_leaves_past_and_earlier_ones(weekly, client_for, clinician):
    before = occurrences_of(weekly)
    # One later occurrence was moved on its own: it keeps its time.
    services.session_move(
        actor=clinician,
        session=before[6],
        starts_at=before[6].starts_at + datetime.timedelta(hours=1),
        ends_at=before[6].ends_at + datetime.timedelta(hours=1),
    )

    response = client_for(clinician).patch(
        f"{SESSIONS}{before[4].pk}/",
        {"scope": "following", "local_start_time": "19:30", "duration_minutes": 90},
        format="json",
    )

    assert response.status_code == 200, response.content
    after = occurrences_of(weekly)
    assert [local_start(s) for s in after] == [
        datetime.time(18),  # past
        datetime.time(18),  # past
        datetime.time(18),  # future, before the edited one
        datetime.time(18),
        datetime.time(19, 30),
        datetime.time(19, 30),
        datetime.time(19),  # moved on its own
        datetime.time(19, 30),
    ]
    assert after[5].ends_at - after[5].starts_at == datetime.timedelta(minutes=90)
    weekly.refresh_from_db()
    assert (weekly.local_start_time, weekly.duration_minutes) == (datetime.time(19, 30), 90)


def test_editing_all_changes_only_future_occurrences(weekly, client_for, clinician):
    before = occurrences_of(weekly)

    response = client_for(clinician).patch(
        f"{SESSIONS}{before[5].pk}/", {"scope": "all", "location": "Annex"}, format="json"
    )

    assert response.status_code == 200, response.content
    after = occurrences_of(weekly)
    assert [s.location for s in after] == ["Hall"] * 2 + ["Annex"] * 6
    assert [s.sequence for s in after] == [0] * 2 + [1] * 6


def test_a_series_edit_refuses_a_bad_scope_and_a_one_off_session(
    weekly, calendar, client_for, clinician
):
    client = client_for(clinician)
    target = occurrences_of(weekly)[3]

    bad_scope = client.patch(
        f"{SESSIONS}{target.pk}/", {"scope": "some", "title": "x"}, format="json"
    )
    mixed = client.patch(
        f"{SESSIONS}{target.pk}/", {"scope": "all", "starts_at": iso(at(days=1))}, format="json"
    )
    one_off = client.patch(
        f"{SESSIONS}{calendar['tomorrow'].pk}/", {"scope": "all", "title": "x"}, format="json"
    )

    assert (bad_scope.status_code, list(bad_scope.json()["fields"])) == (400, ["scope"])
    assert (mixed.status_code, list(mixed.json()["fields"])) == (400, ["starts_at"])
    assert (one_off.status_code, list(one_off.json()["fields"])) == (400, ["scope"])


def test_a_series_edit_of_a_programs_series_keeps_the_programs_session_length(
    frozen_time, client_for, clinician, iop
):
    created = client_for(clinician).post(SERIES, series_body(iop), format="json").json()
    session = Session.objects.filter(series_id=created["id"]).first()

    response = client_for(clinician).patch(
        f"{SESSIONS}{session.pk}/", {"scope": "all", "duration_minutes": 300}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["duration_minutes"]


def test_editing_only_the_title_of_a_moved_occurrence_keeps_its_time(weekly, client_for, clinician):
    """Bug in scheduling.services.series_edit: with scope "this" and no new time it recomputes
    the start from the series' pattern and the occurrence date, undoing an earlier move."""
    target = occurrences_of(weekly)[3]
    moved_to = target.starts_at + datetime.timedelta(days=1, hours=-2)
    services.session_move(
        actor=clinician,
        session=target,
        starts_at=moved_to,
        ends_at=moved_to + datetime.timedelta(hours=2),
    )

    response = client_for(clinician).patch(
        f"{SESSIONS}{target.pk}/", {"scope": "this", "title": "Skills (renamed)"}, format="json"
    )

    assert response.status_code == 200
    target.refresh_from_db()
    assert target.title == "Skills (renamed)"
    assert target.starts_at == moved_to
