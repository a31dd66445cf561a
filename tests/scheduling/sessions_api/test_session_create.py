"""Creating sessions over the API: rosters, double bookings, references to the caller's clinics."""

import pytest

from clinic.models import Room
from scheduling.models import RosterEntry, Session
from tests.factories import ProgramFactory, staff_user
from tests.scheduling.sessions_api.helpers import SESSIONS, at, body, iso, parse

pytestmark = pytest.mark.django_db


# Creating sessions ----------------------------------------------------------------------------


def test_a_clinician_creates_a_program_session_whose_roster_is_the_enrolled_patients(
    frozen_time, client_for, clinician, iop, enrolled
):
    # when
    response = client_for(clinician).post(SESSIONS, body(iop), format="json")

    # then
    assert response.status_code == 201, response.content
    data = response.json()
    assert {k: data[k] for k in ["program", "title", "kind", "location", "status"]} == {
        "program": iop.pk,
        "title": "Relapse prevention",
        "kind": "group",
        "location": "Group room A",
        "status": "scheduled",
    }
    assert parse(data["starts_at"]) == at(days=1)
    assert data["clinic"] == iop.clinic_id
    assert data["time_zone"] == "America/New_York"
    assert data["roster_count"] == 2
    assert data["needs_attendance"] is False
    assert set(
        RosterEntry.objects.filter(session_id=data["id"]).values_list("patient_id", flat=True)
    ) == {p.pk for p in enrolled}


def test_a_supervisor_creates_a_session_too(frozen_time, client_for, supervisor, iop):
    assert client_for(supervisor).post(SESSIONS, body(iop), format="json").status_code == 201


def test_a_session_ending_before_it_starts_is_a_400(frozen_time, client_for, clinician, iop):
    data = body(iop)
    data["ends_at"] = iso(at(days=1, hours=-1))

    response = client_for(clinician).post(SESSIONS, data, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"ends_at": ["A session ends after it starts."]}
    assert not Session.objects.exists()


def test_an_individual_appointment_rosters_its_patient_with_the_caller_as_clinician(
    frozen_time, client_for, clinician, patients
):
    response = client_for(clinician).post(
        SESSIONS,
        body(title="Check-in", kind="individual", patient=patients[0].pk),
        format="json",
    )

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["facilitator"] == clinician.pk
    assert data["capacity"] == 1
    assert data["roster_count"] == 1
    assert RosterEntry.objects.get(session_id=data["id"]).patient == patients[0]


def test_a_double_booked_clinician_is_a_409(frozen_time, client_for, clinician, supervisor):
    client = client_for(supervisor)
    first = client.post(SESSIONS, body(facilitator=clinician.pk), format="json")
    assert first.status_code == 201

    # An hour into the first one.
    response = client.post(
        SESSIONS, body(start=at(days=1, hours=1), facilitator=clinician.pk), format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "code": "clinician_double_booked",
        "detail": "The clinician has another session at that time.",
        "fields": {},
    }
    assert Session.objects.count() == 1


def test_a_double_booked_room_is_a_409_but_back_to_back_is_fine(
    frozen_time, client_for, clinician, room
):
    client = client_for(clinician)
    assert client.post(SESSIONS, body(room=room.pk), format="json").status_code == 201

    overlapping = client.post(SESSIONS, body(start=at(days=1, hours=2), room=room.pk))
    back_to_back = client.post(SESSIONS, body(start=at(days=1, hours=3), room=room.pk))

    assert overlapping.status_code == 409
    assert overlapping.json()["code"] == "room_double_booked"
    assert overlapping.json()["detail"] == "The room is booked for another session at that time."
    assert back_to_back.status_code == 201


def test_a_cancelled_session_frees_its_clinician(frozen_time, client_for, clinician, supervisor):
    client = client_for(supervisor)
    first = client.post(SESSIONS, body(facilitator=clinician.pk)).json()
    assert client.post(f"{SESSIONS}{first['id']}/cancel/").status_code == 200

    assert client.post(SESSIONS, body(facilitator=clinician.pk)).status_code == 201


def test_references_must_be_the_callers_clinics(
    frozen_time, client_for, clinician, other_clinic, admissions
):
    foreign_program = ProgramFactory(
        clinic=other_clinic, name="Elsewhere", level="iop", capacity=10
    )
    foreign_room = Room.objects.create(clinic=other_clinic, name="Far room")

    response = client_for(clinician).post(
        SESSIONS, body(foreign_program, room=foreign_room.pk), format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"program", "room"}


def test_references_to_two_clinics_are_refused(frozen_time, client_for, clinic, other_clinic, iop):
    both = staff_user(role="clinician", clinics=[clinic, other_clinic])
    far_room = Room.objects.create(clinic=other_clinic, name="Far room")

    response = client_for(both).post(SESSIONS, body(iop, room=far_room.pk), format="json")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["room"]
