"""The roster shows each attendee's note status (issue 26, item 4): none, draft, awaiting
co-signature, signed, late; only to those who may read the notes; in queries constant in the
roster's size; and the admin's session page shows the same."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import admin_login, staff_user
from tests.programs.notes_show.conftest import ended_session
from tests.programs.notes_show.helpers import SESSIONS, after_end, note

pytestmark = pytest.mark.django_db


@pytest.fixture
def notes(session, patients, facilitator, supervisor):
    """Ana none, Ben a draft, Cy awaiting co-signature, Dee co-signed, Eve signed late."""
    note(session, patients[1], facilitator)
    note(session, patients[2], facilitator, signed_at=after_end(1), cosign=True)
    note(session, patients[3], facilitator, signed_at=after_end(2), cosigned_by=supervisor)
    note(session, patients[4], facilitator, signed_at=after_end(72.5), group=True)
    return session


def roster_notes(client, session):
    response = client.get(f"{SESSIONS}{session.pk}/attendance/")
    assert response.status_code == 200, response.content
    return {row["first_name"]: row["note"] for row in response.json()["results"]}


def statuses(notes_by_name):
    return {
        name: None if n is None else (n["status"], n["late"]) for name, n in notes_by_name.items()
    }


def test_the_roster_shows_each_attendees_note_status(client_for, facilitator, notes):
    with time_machine.travel(after_end(71), tick=False):
        before = roster_notes(client_for(facilitator), notes)
    with time_machine.travel(after_end(73), tick=False):
        after = statuses(roster_notes(client_for(facilitator), notes))

    assert statuses(before) == {
        "Ana": None,
        "Ben": ("draft", False),
        "Cy": ("awaiting_cosignature", False),
        "Dee": ("signed", False),
        "Eve": ("signed", True),
    }
    assert set(before["Ben"]) == {"id", "status", "late"}
    # 73 hours after the end the draft is late; signed notes keep theirs.
    assert after["Ben"] == ("draft", True)
    assert after["Cy"] == ("awaiting_cosignature", False)


def test_a_shorter_clinic_limit_makes_the_draft_late_sooner(client_for, facilitator, notes):
    notes.clinic.note_late_hours = 24
    notes.clinic.save(update_fields=["note_late_hours"])

    with time_machine.travel(after_end(25), tick=False):
        shown = statuses(roster_notes(client_for(facilitator), notes))

    assert shown["Ben"] == ("draft", True)
    assert shown["Cy"] == ("awaiting_cosignature", False)  # signed within 24 hours


def test_the_supervisor_sees_the_statuses(client_for, supervisor, notes):
    shown = statuses(roster_notes(client_for(supervisor), notes))

    assert shown["Cy"] == ("awaiting_cosignature", False)
    assert shown["Ana"] is None


@pytest.mark.parametrize("role", ["admissions", "utilization_review", "alumni_coordinator"])
def test_roles_that_may_not_read_notes_see_null(client_for, clinic, notes, role):
    user = staff_user(role=role, clinics=[clinic])

    shown = roster_notes(client_for(user), notes)

    assert set(shown) == {"Ana", "Ben", "Cy", "Dee", "Eve"}
    assert set(shown.values()) == {None}


def test_a_clinician_off_the_care_team_sees_only_their_own_notes(
    client_for, off_team, session, patients, notes
):
    note(session, patients[0], off_team)

    shown = statuses(roster_notes(client_for(off_team), notes))

    assert shown == {"Ana": ("draft", False), "Ben": None, "Cy": None, "Dee": None, "Eve": None}


def test_recording_attendance_answers_with_the_note(client_for, facilitator, notes, patients):
    response = client_for(facilitator).post(
        f"{SESSIONS}{notes.pk}/attendance/",
        {"patient": patients[1].pk, "status": "present"},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["note"]["status"] == "draft"


def test_the_rosters_queries_do_not_grow_with_its_size(
    client_for, clinic, facilitator, iop, patients, notes
):
    small = ended_session(
        clinic, facilitator, iop, patients[:1], start=notes.starts_at - datetime.timedelta(days=1)
    )
    note(small, patients[0], facilitator)
    client = client_for(facilitator)
    client.get(f"{SESSIONS}{small.pk}/attendance/")  # the caller's roles and clinics cached

    counts = {}
    for size, session in ((1, small), (5, notes)):
        with CaptureQueriesContext(connection) as queries:
            assert len(roster_notes(client, session)) == size
        counts[size] = len(queries)

    assert counts[1] == counts[5]
    # Without the notes' statuses it would be one fewer: the statuses cost one query.
    assert sum("programs_progressnote" in q["sql"] for q in queries.captured_queries) == 1


def test_the_admin_session_page_shows_the_statuses(client, supervisor, admissions, notes):
    for user in (supervisor, admissions):
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    url = f"/admin/scheduling/session/{notes.pk}/change/"

    with time_machine.travel(after_end(73), tick=False):
        admin_login(client, supervisor)
        page = client.get(url).content.decode()
        admin_login(client, admissions)
        hidden = client.get(url).content.decode()

    assert "<th>Note</th>" in page
    assert "<td>draft (late)</td>" in page
    assert "<td>awaiting cosignature</td>" in page
    assert "<td>signed (late)</td>" in page
    assert "<th>Note</th>" in hidden
    assert "draft" not in hidden
    assert "awaiting cosignature" not in hidden
