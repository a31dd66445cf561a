"""The notes' API: the group note's GET and PUT, individual notes, the list and record, signing,
and who may read or write."""

import datetime

import pytest
import time_machine
from rest_framework.test import APIClient

from clinic.models import AuditEvent, ClinicMembership
from programs.models import ProgressNote
from programs.services import notes
from tests.factories import (
    ClinicFactory,
    app_account,
    client_of,
    staff_user,
    totp_code,
    totp_device,
)
from tests.programs.notes.conftest import parts

PASSWORD = "correct-horse-battery"
# After the group session (conftest: 2026-11-30): signed, then co-signed an hour later.
SIGNED_AT = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
COSIGNING = SIGNED_AT + datetime.timedelta(hours=1)


def group_body(group, **overrides):
    return {
        "topic": "Coping with cravings",
        "interventions": "CBT",
        "attendees": parts(group.patients[:3]),
        **overrides,
    }


@pytest.fixture
def written(group, clinician):
    """The group's notes saved by the facilitator."""
    response = client_of(clinician).put(
        f"/api/v1/sessions/{group.pk}/group-note/", group_body(group), format="json"
    )
    assert response.status_code == 200, response.content
    return response


def test_put_writes_the_notes_and_get_shows_the_roster(group, clinician, written):
    body = written.json()
    assert body["group_part"]["topic"] == "Coping with cravings"
    rows = {row["patient"]: row for row in body["attendees"]}
    assert [rows[p.pk]["attendance"] for p in group.patients] == [
        "present",
        "present",
        "late",
        "absent",
    ]
    assert all(rows[p.pk]["note_status"] == "draft" for p in group.patients[:3])
    assert rows[group.patients[3].pk]["note"] is None

    response = client_of(clinician).get(f"/api/v1/sessions/{group.pk}/group-note/")
    assert response.status_code == 200
    assert response["ETag"] == written["ETag"]
    assert response["Cache-Control"].count("no-store") == 1


def test_get_offers_the_prefill_before_any_note(group, clinician):
    response = client_of(clinician).get(f"/api/v1/sessions/{group.pk}/group-note/")
    rows = {row["patient"]: row for row in response.json()["attendees"]}
    assert response.json()["group_part"] is None
    assert rows[group.patients[0].pk]["prefill"] == {"progress": "", "plan": ""}
    assert rows[group.patients[3].pk]["prefill"] is None


def test_a_stale_if_match_is_412(group, clinician, written):
    client = client_of(clinician)
    client.put(
        f"/api/v1/sessions/{group.pk}/group-note/", group_body(group, topic="New"), format="json"
    )
    response = client.put(
        f"/api/v1/sessions/{group.pk}/group-note/",
        group_body(group, topic="Newer"),
        format="json",
        HTTP_IF_MATCH=written["ETag"],
    )
    assert response.status_code == 412


def test_a_name_in_the_group_part_is_400_without_the_name(group, clinician):
    response = client_of(clinician).put(
        f"/api/v1/sessions/{group.pk}/group-note/",
        group_body(group, interventions="Role play with Ana"),
        format="json",
    )
    assert response.status_code == 400
    assert "Ana" not in response.content.decode()
    assert "interventions" in response.json()["fields"]
    assert not ProgressNote.objects.exists()


def test_a_name_in_a_changed_group_part_is_400_and_the_notes_keep_theirs(group, clinician, written):
    # given: the group's notes, their group part naming nobody
    note = ProgressNote.objects.get(patient=group.patients[0])
    client = client_of(clinician)
    path = f"/api/v1/sessions/{group.pk}/group-note/"

    # when: the facilitator rewrites the group part naming the absent patient (on the roster,
    # not an attendee)
    response = client.put(
        path,
        group_body(group, group_dynamics="Quieter without QUINT today"),
        format="json",
        HTTP_IF_MATCH=written["ETag"],
    )

    # then: refused without repeating the name; the part each attendee's note shows is as it was
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["group_dynamics"]
    assert "quint" not in response.content.decode().lower()
    assert client.get(path)["ETag"] == written["ETag"]
    detail = client.get(f"/api/v1/progress-notes/{note.pk}/")
    assert detail.status_code == 200
    assert detail.json()["group_part"] == written.json()["group_part"]


def test_a_notes_own_edit_cannot_carry_a_group_part(group, clinician, written):
    note = ProgressNote.objects.get(patient=group.patients[0])
    path = f"/api/v1/progress-notes/{note.pk}/"
    client = client_of(clinician)

    response = client.patch(
        path,
        {"sections": {"plan": "Weekly"}, "group_part": {"group_dynamics": "Led by Quint"}},
        format="json",
    )

    # Only the note's sections are its own to edit; the group part is written through the
    # session's group note, where the name check runs.
    assert response.status_code == 200, response.content
    assert response.json()["sections"]["plan"] == "Weekly"
    assert response.json()["group_part"] == written.json()["group_part"]
    assert "Quint" not in response.content.decode()


def test_individual_note_post(appointment, clinician):
    response = client_of(clinician).post(
        f"/api/v1/sessions/{appointment.pk}/progress-notes/",
        {"patient": appointment.patient.pk, "sections": {"data": "Sober", "plan": "Weekly"}},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["format"] == "dap"
    assert response.json()["status"] == "draft"


def test_sign_patch_and_addenda_through_the_api(group, clinician, written):
    note = ProgressNote.objects.get(patient=group.patients[0])
    client = client_of(clinician)

    wrong = client.post(f"/api/v1/progress-notes/{note.pk}/sign/", {"password": "nope"})
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "reauthentication_failed"
    note.refresh_from_db()
    assert note.signed_at is None

    signed = client.post(f"/api/v1/progress-notes/{note.pk}/sign/", {"password": PASSWORD})
    assert signed.status_code == 200, signed.content
    assert signed.json()["status"] == "signed"

    patch = client.patch(
        f"/api/v1/progress-notes/{note.pk}/", {"sections": {"plan": "x"}}, format="json"
    )
    assert patch.status_code == 409
    assert patch.json()["code"] == "note_signed"

    addendum = client.post(f"/api/v1/progress-notes/{note.pk}/addenda/", {"text": "Called."})
    assert addendum.status_code == 201
    detail = client.get(f"/api/v1/progress-notes/{note.pk}/").json()
    assert [a["text"] for a in detail["addenda"]] == ["Called."]
    assert detail["group_part"]["topic"] == "Coping with cravings"


def test_the_list_filters(group, clinician, written):
    note = ProgressNote.objects.get(patient=group.patients[0])
    # Signed 73 hours after the session's end: one hour past the clinic's 72.
    signed_late = group.ends_at + datetime.timedelta(hours=73)
    notes.progress_note_sign(actor=clinician, note=note, password=PASSWORD, now=signed_late)
    client = client_of(clinician)

    def ids(query):
        response = client.get(f"/api/v1/progress-notes/?{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids("status=signed") == {note.pk}
    assert len(ids("status=draft")) == 2
    assert ids("status=awaiting_cosignature") == set()
    assert ids(f"patient={group.patients[1].pk}") == {
        ProgressNote.objects.get(patient=group.patients[1]).pk
    }
    assert len(ids(f"session={group.pk}&author={clinician.pk}")) == 3
    drafts = set(ProgressNote.objects.exclude(pk=note.pk).values_list("pk", flat=True))
    with time_machine.travel(group.ends_at + datetime.timedelta(hours=71), tick=False):
        assert ids("late=true") == {note.pk}
        assert ids("late=false") == drafts
    with time_machine.travel(group.ends_at + datetime.timedelta(hours=73), tick=False):
        assert ids("late=true") == {note.pk, *drafts}


def test_every_read_is_audited_with_the_patient(group, clinician, written):
    note = ProgressNote.objects.get(patient=group.patients[0])
    before = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    client_of(clinician).get(f"/api/v1/progress-notes/{note.pk}/")
    assert list(AuditEvent.objects.filter(pk__gt=before).values_list("action", "patient_id")) == [
        ("read", note.patient_id)
    ]
    before = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    client_of(clinician).get("/api/v1/progress-notes/")
    listed = AuditEvent.objects.filter(pk__gt=before, action="list")
    assert sorted(listed.values_list("patient_id", flat=True)) == sorted(
        p.pk for p in group.patients[:3]
    )


def test_who_reads_a_note(group, clinician, supervisor, admissions, clinic, written):
    note = ProgressNote.objects.get(patient=group.patients[0])
    path = f"/api/v1/progress-notes/{note.pk}/"
    other_clinician = staff_user(role="clinician", clinics=[clinic])
    other_supervisor = staff_user(role="supervisor", clinics=[ClinicFactory()])

    assert client_of(supervisor).get(path).status_code == 200
    assert client_of(other_clinician).get(path).status_code == 404
    assert client_of(admissions).get(path).status_code == 404
    assert client_of(other_supervisor).get(path).status_code == 404
    assert client_of(admissions).post(f"{path}addenda/", {"text": "x"}).status_code == 403
    patient_user = app_account(group.patients[0])
    assert client_of(patient_user).get(path).status_code == 403
    assert client_of(patient_user).get("/api/v1/progress-notes/").status_code == 403
    group_path = f"/api/v1/sessions/{group.pk}/group-note/"
    assert client_of(patient_user).get(group_path).status_code == 403
    assert client_of(admissions).get(group_path).status_code == 403
    assert client_of(other_supervisor).get(group_path).status_code == 404


def test_another_clinician_cannot_edit_the_authors_draft(group, clinician, clinic, supervisor):
    notes.group_note_save(
        actor=clinician,
        session=group,
        topic="T",
        interventions="I",
        attendees=parts(group.patients[:3]),
    )
    note = ProgressNote.objects.get(patient=group.patients[0])
    response = client_of(supervisor).patch(
        f"/api/v1/progress-notes/{note.pk}/", {"sections": {"plan": "x"}}, format="json"
    )
    assert response.status_code == 403


def test_wrong_signing_passwords_count_toward_the_sign_in_lockout(group, clinician, written):
    note = ProgressNote.objects.get(patient=group.patients[0])
    client = client_of(clinician)
    answers = [
        client.post(
            f"/api/v1/progress-notes/{note.pk}/sign/", {"password": "nope"}, REMOTE_ADDR="10.1.2.3"
        ).status_code
        for _ in range(5)
    ]
    assert answers == [403, 403, 403, 403, 429]
    sign_in = APIClient(REMOTE_ADDR="10.1.2.3").post(
        "/api/v1/auth/token/", {"username": clinician.username, "password": PASSWORD}
    )
    assert sign_in.status_code == 429


@pytest.fixture
def awaiting(group, clinician, clinic, written):
    """The first patient's note, signed by a clinician whose signature needs co-signing."""
    ClinicMembership.objects.filter(user=clinician, clinic=clinic).update(requires_cosignature=True)
    note = ProgressNote.objects.get(patient=group.patients[0])
    return notes.progress_note_sign(actor=clinician, note=note, password=PASSWORD, now=SIGNED_AT)


def test_cosign_with_an_authenticator_code(supervisor, awaiting):
    with time_machine.travel(COSIGNING, tick=False):
        response = client_of(supervisor).post(
            f"/api/v1/progress-notes/{awaiting.pk}/cosign/",
            {"otp_token": totp_code(totp_device(supervisor))},
        )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["cosigned_by"]) == ("signed", supervisor.pk)


def test_wrong_cosigning_codes_count_toward_the_sign_in_lockout(supervisor, awaiting):
    client = client_of(supervisor)
    with time_machine.travel(COSIGNING, tick=False):
        code = totp_code(totp_device(supervisor))
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        answers = [
            client.post(
                f"/api/v1/progress-notes/{awaiting.pk}/cosign/",
                {"otp_token": wrong},
                REMOTE_ADDR="10.1.2.4",
            )
            for _ in range(5)
        ]
        # Within the lockout's cool-off: the supervisor's own sign-in from that address.
        sign_in = APIClient(REMOTE_ADDR="10.1.2.4").post(
            "/api/v1/auth/token/", {"username": supervisor.username, "password": PASSWORD}
        )

    assert [a.status_code for a in answers] == [403, 403, 403, 403, 429]
    assert answers[0].json()["code"] == "reauthentication_failed"
    assert sign_in.status_code == 429
    awaiting.refresh_from_db()
    assert awaiting.awaiting_cosignature
