"""``notes-due/`` and its admin page (issue 26, item 4): a clinician's unsigned drafts and
notes awaiting co-signature; a supervisor's also every note of their clinics awaiting
co-signature, or one clinician's; late flags by the clinic's limit; filters, order, audit and a
constant number of queries."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditAction, AuditEvent
from tests.factories import PatientFactory, admin_login, staff_user
from tests.programs.notes_show.conftest import ended_session
from tests.programs.notes_show.helpers import NOTES_DUE, START, after_end, note

pytestmark = pytest.mark.django_db


@pytest.fixture
def intern(clinic):
    return staff_user(role="clinician", clinics=[clinic], first_name="Ivy", last_name="Intern")


@pytest.fixture
def notes(session, patients, facilitator, intern, supervisor):
    """The facilitator: a draft (Ana), one awaiting co-signature (Ben), one co-signed (Cy),
    one signed without co-signature (Dee). The intern: a draft (Eve) and, from an earlier
    session, one awaiting co-signature (Ana)."""
    earlier = ended_session(
        session.clinic,
        facilitator,
        session.program,
        patients[:1],
        start=START - datetime.timedelta(days=1),
    )
    return {
        "ana_draft": note(session, patients[0], facilitator),
        "ben_awaiting": note(
            session, patients[1], facilitator, signed_at=after_end(1), cosign=True
        ),
        "cy_cosigned": note(
            session, patients[2], facilitator, signed_at=after_end(1), cosigned_by=supervisor
        ),
        "dee_signed": note(session, patients[3], facilitator, signed_at=after_end(2)),
        "eve_intern_draft": note(session, patients[4], intern),
        "ana_intern_awaiting": note(
            earlier, patients[0], intern, signed_at=after_end(-20), cosign=True
        ),
    }


def due(client, **query):
    response = client.get(NOTES_DUE, query)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def ids(rows):
    return [row["id"] for row in rows]


def test_a_clinician_sees_their_drafts_and_notes_awaiting_cosignature(
    client_for, facilitator, notes
):
    rows = due(client_for(facilitator))

    # By deadline: both due at the same session's end + 72 h, then by id.
    assert ids(rows) == [notes["ana_draft"].pk, notes["ben_awaiting"].pk]
    first = rows[0]
    assert first["patient"] == notes["ana_draft"].patient_id
    assert first["patient_name"] == "Rivera, Ana"
    assert first["session_title"] == "Relapse prevention"
    assert first["session_starts_at"] == "2026-11-27T15:00:00Z"
    assert (first["status"], first["late"]) == ("draft", False)
    assert first["deadline"] == "2026-11-30T18:00:00Z"  # the end + 72 hours
    assert rows[1]["status"] == "awaiting_cosignature"


def test_the_intern_sees_only_their_own(client_for, intern, notes):
    assert ids(due(client_for(intern))) == [
        notes["ana_intern_awaiting"].pk,  # the earlier session's: the earlier deadline
        notes["eve_intern_draft"].pk,
    ]


def test_a_supervisor_sees_every_note_awaiting_cosignature_but_not_others_drafts(
    client_for, supervisor, notes
):
    assert ids(due(client_for(supervisor))) == [
        notes["ana_intern_awaiting"].pk,
        notes["ben_awaiting"].pk,
    ]


def test_a_supervisor_sees_one_clinicians_notes_due(client_for, supervisor, intern, notes):
    assert ids(due(client_for(supervisor), author=intern.pk)) == [
        notes["ana_intern_awaiting"].pk,
        notes["eve_intern_draft"].pk,
    ]


def test_a_clinician_may_not_see_anothers(client_for, facilitator, intern, notes):
    response = client_for(facilitator).get(NOTES_DUE, {"author": intern.pk})

    assert response.status_code == 403


def test_supervisors_of_another_clinic_see_none(client_for, outside_supervisor, intern, notes):
    client = client_for(outside_supervisor)

    assert due(client) == []
    assert due(client, author=intern.pk) == []


@pytest.mark.parametrize("role", ["admissions", "utilization_review", "alumni_coordinator"])
def test_other_roles_are_refused(client_for, clinic, role):
    assert client_for(staff_user(role=role, clinics=[clinic])).get(NOTES_DUE).status_code == 403


def test_late_flags_by_the_hours_after_the_sessions_end(client_for, facilitator, notes):
    client = client_for(facilitator)
    with time_machine.travel(after_end(71), tick=False):
        at_71 = {row["id"]: row["late"] for row in due(client)}
    with time_machine.travel(after_end(73), tick=False):
        at_73 = {row["id"]: row["late"] for row in due(client)}
        late_only = ids(due(client, late="true"))

    assert at_71 == {notes["ana_draft"].pk: False, notes["ben_awaiting"].pk: False}
    # The draft turns late; a note signed within the limit never does.
    assert at_73 == {notes["ana_draft"].pk: True, notes["ben_awaiting"].pk: False}
    assert late_only == [notes["ana_draft"].pk]


def test_the_clinics_limit_decides_when_a_note_is_late(client_for, facilitator, clinic, notes):
    clinic.note_late_hours = 24
    clinic.save(update_fields=["note_late_hours"])

    rows = due(client_for(facilitator))  # 71 hours after the end

    assert [(row["status"], row["late"]) for row in rows] == [
        ("draft", True),
        ("awaiting_cosignature", False),
    ]
    assert rows[0]["deadline"] == "2026-11-28T18:00:00Z"


def test_the_status_filter(client_for, supervisor, intern, notes):
    client = client_for(supervisor)

    assert ids(due(client, author=intern.pk, status="draft")) == [notes["eve_intern_draft"].pk]
    assert client.get(NOTES_DUE, {"status": "signed"}).status_code == 400
    assert client.get(NOTES_DUE, {"late": "maybe"}).status_code == 400


def test_each_listed_note_is_audited(client_for, supervisor, notes):
    client_for(supervisor).get(NOTES_DUE)

    events = AuditEvent.objects.filter(actor=supervisor, action=AuditAction.LIST)
    assert sorted(events.values_list("object_id", "patient_id")) == sorted(
        (str(n.pk), n.patient_id) for n in (notes["ana_intern_awaiting"], notes["ben_awaiting"])
    )
    assert set(events.values_list("object_type", flat=True)) == {"programs.progressnote"}


def test_the_lists_queries_do_not_grow_with_the_page(
    client_for, clinic, admissions, facilitator, session, notes
):
    client = client_for(facilitator)
    due(client)  # the caller's roles and clinics cached
    with CaptureQueriesContext(connection) as two:
        assert len(due(client)) == 2
    more = [PatientFactory(clinic=clinic, actor=admissions) for _ in range(4)]
    later = ended_session(
        clinic, facilitator, session.program, more, start=START + datetime.timedelta(days=1)
    )
    for patient in more:
        note(later, patient, facilitator)
    with CaptureQueriesContext(connection) as six:
        assert len(due(client)) == 6

    assert len(two) == len(six)


def test_the_admin_page_lists_the_notes_due_and_each_clinicians_counts(
    client, supervisor, facilitator, notes
):
    for user in (supervisor, facilitator):
        user.is_staff = True
        user.save(update_fields=["is_staff"])

    with time_machine.travel(after_end(73), tick=False):
        admin_login(client, supervisor)
        home = client.get("/admin/").content.decode()
        page = client.get("/admin/programs/enrollment/notes-due/").content.decode()
        admin_login(client, facilitator)
        own = client.get("/admin/programs/enrollment/notes-due/").content.decode()

    assert "/admin/programs/enrollment/notes-due/" in home
    # Both awaiting co-signature, signed in time: neither late.
    assert 'class="late"' not in page
    assert "Rivera, Ben" in page
    assert "Rivera, Eve" not in page  # the intern's draft: theirs to finish
    assert "By clinician" in page
    assert "<td>Intern, Ivy</td><td>1</td><td>1</td><td>1</td>" in page
    assert "Rivera, Ana" in own
    assert "<strong>late</strong>" in own
    assert "By clinician" not in own
    assert AuditEvent.objects.filter(actor=facilitator, action=AuditAction.LIST).count() == 2
