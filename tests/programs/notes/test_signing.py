"""Individual notes, signing with re-authentication, the database lock, co-signature, addenda
and late flags."""

import datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, InternalError, transaction

from clinic.errors import Conflict, Forbidden
from clinic.models import ClinicMembership
from programs.models import ProgressNote
from programs.selectors import progress_note_deadline, progress_note_late_q
from programs.services import notes
from tests.factories.clinic import staff_user, totp_code, totp_device

PASSWORD = "correct-horse-battery"
# After the notes' sessions (conftest: 2026-11-30).
SIGNED_AT = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
COSIGNING = SIGNED_AT + datetime.timedelta(hours=1)


def dap(appointment, clinician, **sections):
    return notes.individual_note_save(
        actor=clinician,
        session=appointment,
        patient=appointment.patient,
        sections=sections or {"data": "Reports 10 days sober", "plan": "Weekly"},
    )


def test_an_individual_note_takes_the_clinics_format(appointment, clinician):
    note = dap(appointment, clinician)
    assert note.format == "dap"
    assert note.attendance is not None

    with pytest.raises(ValidationError) as error:
        dap(appointment, clinician, subjective="SOAP key in a DAP clinic")
    assert "subjective" in str(error.value)


def test_a_soap_clinic_writes_soap(appointment, clinician):
    appointment.clinic.note_format = "soap"
    appointment.clinic.save(update_fields=["note_format"])
    note = dap(appointment, clinician, subjective="Tired", objective="Calm")
    assert note.format == "soap"


def test_a_blank_note_cannot_be_signed(appointment, clinician):
    note = dap(appointment, clinician, data="  ")
    with pytest.raises(ValidationError):
        notes.progress_note_sign(actor=clinician, note=note, password=PASSWORD)


def test_sign_with_password_locks_the_note(appointment, clinician):
    note = dap(appointment, clinician)
    note = notes.progress_note_sign(actor=clinician, note=note, password=PASSWORD)
    assert note.signed_at is not None
    assert not note.cosignature_required

    with pytest.raises(Conflict) as error:
        notes.progress_note_update(
            actor=clinician, note=note, sections={"plan": "x"}, expected_versions=None
        )
    assert error.value.code == "note_signed"
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        ProgressNote.objects.filter(pk=note.pk).update(sections={"data": "rewritten"})


def test_sign_with_otp(appointment, clinician):
    note = dap(appointment, clinician)
    device = totp_device(clinician)
    note = notes.progress_note_sign(actor=clinician, note=note, otp_token=totp_code(device))
    assert note.is_signed


def test_a_wrong_password_leaves_a_draft(appointment, clinician):
    note = dap(appointment, clinician)
    with pytest.raises(Forbidden) as error:
        notes.progress_note_sign(actor=clinician, note=note, password="wrong")
    assert error.value.code == "reauthentication_failed"
    note.refresh_from_db()
    assert note.signed_at is None


def test_only_the_author_signs(appointment, clinician, supervisor):
    note = dap(appointment, clinician)
    with pytest.raises(PermissionDenied):
        notes.progress_note_sign(actor=supervisor, note=note, password=PASSWORD)


def test_cosignature_flow(appointment, clinician, supervisor, clinic):
    ClinicMembership.objects.filter(user=clinician, clinic=clinic).update(requires_cosignature=True)
    note = notes.progress_note_sign(
        actor=clinician, note=dap(appointment, clinician), password=PASSWORD
    )
    assert note.awaiting_cosignature

    with pytest.raises(PermissionDenied):
        notes.progress_note_cosign(actor=clinician, note=note, password=PASSWORD)
    other_clinician = staff_user(role="clinician", clinics=[clinic])
    with pytest.raises(PermissionDenied):
        notes.progress_note_cosign(actor=other_clinician, note=note, password=PASSWORD)

    note = notes.progress_note_cosign(actor=supervisor, note=note, password=PASSWORD)
    assert note.cosigned_by == supervisor
    assert not note.awaiting_cosignature
    with pytest.raises(Conflict):
        notes.progress_note_cosign(actor=supervisor, note=note, password=PASSWORD)


def awaiting_cosignature(appointment, clinician, clinic):
    ClinicMembership.objects.filter(user=clinician, clinic=clinic).update(requires_cosignature=True)
    return notes.progress_note_sign(
        actor=clinician, note=dap(appointment, clinician), password=PASSWORD, now=SIGNED_AT
    )


def test_cosign_with_otp(appointment, clinician, supervisor, clinic):
    note = awaiting_cosignature(appointment, clinician, clinic)
    with time_machine.travel(COSIGNING, tick=False):
        code = totp_code(totp_device(supervisor))
        note = notes.progress_note_cosign(actor=supervisor, note=note, otp_token=code)

    assert (note.cosigned_by, note.cosigned_at) == (supervisor, COSIGNING)
    assert not note.awaiting_cosignature


def test_a_wrong_cosigning_code_leaves_it_awaiting(appointment, clinician, supervisor, clinic):
    note = awaiting_cosignature(appointment, clinician, clinic)
    with time_machine.travel(COSIGNING, tick=False) as traveller:
        code = totp_code(totp_device(supervisor))
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"

        with pytest.raises(Forbidden) as error:
            notes.progress_note_cosign(actor=supervisor, note=note, otp_token=wrong)
        assert error.value.code == "reauthentication_failed"
        note.refresh_from_db()
        assert note.awaiting_cosignature

        # The wrong code used nothing up: the right one co-signs once the device's throttle of
        # a wrong code has passed.
        traveller.shift(datetime.timedelta(seconds=2))
        note = notes.progress_note_cosign(actor=supervisor, note=note, otp_token=code)
    assert note.cosigned_by == supervisor


def test_cosign_refused_when_not_required(appointment, clinician, supervisor):
    note = notes.progress_note_sign(
        actor=clinician, note=dap(appointment, clinician), password=PASSWORD
    )
    with pytest.raises(Conflict):
        notes.progress_note_cosign(actor=supervisor, note=note, password=PASSWORD)


def test_addenda_only_to_signed_notes(appointment, clinician, supervisor, clinic):
    note = dap(appointment, clinician)
    with pytest.raises(Conflict) as error:
        notes.progress_note_addendum_add(actor=clinician, note=note, text="More")
    assert error.value.code == "note_not_signed"
    note = notes.progress_note_sign(actor=clinician, note=note, password=PASSWORD)
    notes.progress_note_addendum_add(actor=clinician, note=note, text="Called back")
    notes.progress_note_addendum_add(actor=supervisor, note=note, text="Reviewed")
    with pytest.raises(PermissionDenied):
        notes.progress_note_addendum_add(
            actor=staff_user(role="clinician", clinics=[clinic]), note=note, text="x"
        )
    assert list(note.addenda.values_list("text", flat=True)) == ["Called back", "Reviewed"]


def test_a_group_note_needs_every_section_to_sign(group, clinician):
    from tests.programs.notes.conftest import parts

    notes.group_note_save(
        actor=clinician,
        session=group,
        topic="Cravings",
        interventions="CBT",
        attendees=parts(group.patients[:3], plan=""),
    )
    note = ProgressNote.objects.filter(session=group).first()
    with pytest.raises(ValidationError):
        notes.progress_note_sign(actor=clinician, note=note, password=PASSWORD)


@pytest.mark.parametrize(("hours", "late"), [(71, False), (73, True)])
def test_late_after_the_clinics_limit(appointment, clinician, hours, late):
    note = dap(appointment, clinician)
    at = appointment.ends_at + datetime.timedelta(hours=hours)
    with time_machine.travel(at, tick=False):
        flagged = (
            ProgressNote.objects.annotate(deadline=progress_note_deadline())
            .filter(progress_note_late_q(at), pk=note.pk)
            .exists()
        )
    assert flagged is late
