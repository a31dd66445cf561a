"""Who sees a group session's notes (``sessions/{id}/group-note/``): the readers of the notes,
attendee by attendee, as ``progress_note_list`` decides; its writers are the facilitator and the
clinic's supervisors."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditEvent
from programs.models import AftercareGoal, AftercarePlan, GroupNote, ProgressNote
from programs.services import notes
from tests.factories import client_of, staff_user
from tests.factories.programs import EnrollmentFactory
from tests.programs.notes.conftest import parts


def path(group):
    return f"/api/v1/sessions/{group.pk}/group-note/"


def put_body(group):
    return {
        "topic": "Coping with cravings",
        "interventions": "CBT",
        "attendees": parts(group.patients[:3]),
    }


def last_audit_pk():
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def stay_with_goal(patient, program, *, text, actor, primary_clinician=None):
    """A stay with an aftercare plan holding one open goal (the prefill's patient data)."""
    enrollment = EnrollmentFactory(
        patient=patient, program=program, primary_clinician=primary_clinician, actor=actor
    )
    plan = AftercarePlan.objects.create(
        patient=patient, enrollment=enrollment, status="active", created_by=actor
    )
    AftercareGoal.objects.create(plan=plan, description=text, status="open")


@pytest.fixture
def goals(group, iop, admissions):
    """Ana and Ben each have an open goal."""
    stay_with_goal(group.patients[0], iop, text="Call my sponsor", actor=admissions)
    stay_with_goal(group.patients[1], iop, text="Walk daily", actor=admissions)


@pytest.fixture
def primary_clinician(group, clinic, iop, admissions):
    """Cleo's primary clinician on her IOP stay, not the group's facilitator."""
    user = staff_user(role="clinician", clinics=[clinic])
    EnrollmentFactory(
        patient=group.patients[2], program=iop, primary_clinician=user, actor=admissions
    )
    return user


def test_a_clinician_of_the_clinic_outside_the_care_team_gets_a_404(group, clinic, goals):
    # given
    outsider = staff_user(role="clinician", clinics=[clinic])
    before = last_audit_pk()

    # when
    read = client_of(outsider).get(path(group))
    write = client_of(outsider).put(path(group), put_body(group), format="json")

    # then
    assert read.status_code == 404
    assert read.json()["code"] == "not_found"
    assert "Call my sponsor" not in read.content.decode()
    assert write.status_code == 404
    assert not GroupNote.objects.exists()
    assert not AuditEvent.objects.filter(pk__gt=before).exists()


@pytest.mark.parametrize("who", ["clinician", "supervisor"])
def test_the_facilitator_and_a_supervisor_see_every_attendee(who, group, goals, request):
    # given: the conftest's clinician facilitates the group
    user = request.getfixturevalue(who)
    before = last_audit_pk()

    # when
    response = client_of(user).get(path(group))

    # then
    assert response.status_code == 200, response.content
    rows = {row["patient"]: row for row in response.json()["attendees"]}
    assert set(rows) == {p.pk for p in group.patients}
    assert "Goal: Call my sponsor (open)" in rows[group.patients[0].pk]["prefill"]["progress"]
    assert "Goal: Walk daily (open)" in rows[group.patients[1].pk]["prefill"]["progress"]
    audited = AuditEvent.objects.filter(pk__gt=before, action="read")
    assert sorted(audited.values_list("patient_id", flat=True)) == sorted(
        p.pk for p in group.patients
    )


def test_a_supervisor_writes_the_group_note(group, supervisor):
    response = client_of(supervisor).put(path(group), put_body(group), format="json")

    assert response.status_code == 200, response.content
    assert GroupNote.objects.get(session=group).author == supervisor


def test_a_primary_clinician_sees_their_patient_only(group, goals, primary_clinician, clinician):
    # given: the facilitator has written the notes, Cleo's among them
    client_of(clinician).put(path(group), put_body(group), format="json")
    cleo = group.patients[2]
    before = last_audit_pk()

    # when
    response = client_of(primary_clinician).get(path(group))

    # then: Cleo's row alone, with her note; no other attendee's note, status or goals
    assert response.status_code == 200, response.content
    body = response.json()
    assert [row["patient"] for row in body["attendees"]] == [cleo.pk]
    assert body["attendees"][0]["note"] == ProgressNote.objects.get(patient=cleo).pk
    assert body["attendees"][0]["note_status"] == "draft"
    assert "Call my sponsor" not in response.content.decode()
    assert body["group_part"]["topic"] == "Coping with cravings"
    audited = AuditEvent.objects.filter(pk__gt=before)
    assert list(audited.values_list("action", "patient_id")) == [("read", cleo.pk)]


def test_a_primary_clinician_gets_only_their_patients_prefill(group, iop, admissions):
    # given: Ana's primary clinician, before any note is written; Ben has a goal too
    user = staff_user(role="clinician", clinics=[group.clinic])
    ana, ben = group.patients[:2]
    stay_with_goal(ana, iop, text="Call my sponsor", actor=admissions, primary_clinician=user)
    stay_with_goal(ben, iop, text="Walk daily", actor=admissions)

    # when
    response = client_of(user).get(path(group))

    # then
    assert response.status_code == 200, response.content
    rows = response.json()["attendees"]
    assert [row["patient"] for row in rows] == [ana.pk]
    assert "Goal: Call my sponsor (open)" in rows[0]["prefill"]["progress"]
    assert "Walk daily" not in response.content.decode()


def test_a_reader_who_is_not_a_writer_may_not_put(group, primary_clinician):
    response = client_of(primary_clinician).put(path(group), put_body(group), format="json")

    assert response.status_code == 403
    assert not GroupNote.objects.exists()
    with pytest.raises(PermissionDenied):
        notes.group_note_save(
            actor=primary_clinician,
            session=group,
            topic="T",
            interventions="I",
            attendees=parts(group.patients[:3]),
        )


def test_an_earlier_facilitator_sees_the_attendees_whose_notes_they_wrote(group, clinic, clinician):
    # given: the notes' author hands the group to another clinician
    client_of(clinician).put(path(group), put_body(group), format="json")
    successor = staff_user(role="clinician", clinics=[clinic])
    group.facilitator = successor
    group.save(update_fields=["facilitator"])

    # when
    by_author = client_of(clinician).get(path(group))
    by_successor = client_of(successor).get(path(group))

    # then: the author reads the three notes they wrote (not the absent patient's row)
    assert by_author.status_code == 200
    assert [row["patient"] for row in by_author.json()["attendees"]] == sorted(
        p.pk for p in group.patients[:3]
    )
    assert client_of(clinician).put(path(group), put_body(group), format="json").status_code == 403
    assert len(by_successor.json()["attendees"]) == 4


def test_the_get_is_pinned(group, goals, clinician, primary_clinician):
    """The session, the writer check (supervisor of the clinic, then its facilitator's role),
    the readable attendees, the group part, their notes, the prefill (attendees, plans, goals
    when a plan has any, latest measures), the attendance, and one audit INSERT per row shown,
    as the GET always audited. Cleo's primary clinician: one writer check, no goals to fetch."""
    pinned = {clinician: 11 + 4, primary_clinician: 9 + 1}

    counted = {}
    for user in pinned:
        client = client_of(user)
        client.get(path(group))  # the user caches its roles: warm it
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path(group))
        assert response.status_code == 200, response.content
        counted[user] = len(captured)

    assert counted == pinned
