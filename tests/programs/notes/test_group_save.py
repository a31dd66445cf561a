"""A group note becomes each present or late attendee's note, in one transaction."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, InternalError, transaction

from clinic.models import AuditEvent
from programs.models import GroupNote, ProgressNote
from programs.services import notes
from tests.programs.notes.conftest import parts


def save(group, actor, **kwargs):
    present = group.patients[:3]
    fields = {
        "topic": "Coping with cravings",
        "interventions": "CBT, urge surfing",
        "group_dynamics": "Supportive",
        "attendees": parts(present),
    }
    fields.update(kwargs)
    return notes.group_note_save(actor=actor, session=group, **fields)


def test_it_writes_one_note_per_present_or_late_attendee(group, clinician):
    absent = group.patients[3]
    saved = save(group, clinician, absences=[{"patient": absent.pk, "note": "Called, no answer"}])

    assert GroupNote.objects.filter(session=group).count() == 1
    group_notes = ProgressNote.objects.filter(session=group, format="group")
    assert sorted(group_notes.values_list("patient_id", flat=True)) == sorted(
        p.pk for p in group.patients[:3]
    )
    assert all(n.group_note_id == saved.group_note.pk for n in group_notes)
    absence = ProgressNote.objects.get(session=group, patient=absent)
    assert absence.format == "absence"
    assert absence.sections == {"note": "Called, no answer"}
    assert (
        AuditEvent.objects.filter(object_type="programs.progressnote", action="create").count() == 4
    )


def test_absence_note_is_optional(group, clinician):
    save(group, clinician)
    assert not ProgressNote.objects.filter(patient=group.patients[3]).exists()


def test_a_bad_attendee_writes_nothing(group, clinician):
    absent = group.patients[3]
    with pytest.raises(ValidationError) as error:
        save(group, clinician, attendees=parts([*group.patients[:3], absent]))
    assert str(absent.pk) in str(error.value)
    assert not GroupNote.objects.exists()
    assert not ProgressNote.objects.exists()


def test_every_attendee_must_be_covered(group, clinician):
    with pytest.raises(ValidationError) as error:
        save(group, clinician, attendees=parts(group.patients[:2]))
    assert str(group.patients[2].pk) in str(error.value)
    assert not ProgressNote.objects.exists()


def test_an_absence_note_only_for_absent_patients(group, clinician):
    with pytest.raises(ValidationError):
        save(group, clinician, absences=[{"patient": group.patients[0].pk, "note": "x"}])
    assert not ProgressNote.objects.exists()


@pytest.mark.parametrize(
    "text",
    ["Ana shared a lot", "OKAFOR was quiet", "diaz and the group", "Marsh-led discussion"],
)
def test_the_group_part_must_not_name_a_rostered_patient(group, clinician, text):
    with pytest.raises(ValidationError) as error:
        save(group, clinician, group_dynamics=text)
    messages = error.value.message_dict["group_dynamics"]
    assert "names a patient on this session's roster" in messages[0]
    for p in group.patients:
        assert p.first_name.lower() not in messages[0].lower().split()
        assert p.last_name.lower() not in messages[0].lower()
    assert not GroupNote.objects.exists()


def test_short_names_and_parts_of_words_are_not_names(group, clinician):
    # "Jo" is shorter than three letters; "Banana" and "Marshmallow" only contain names.
    save(group, clinician, group_dynamics="Jo-like energy; Banana break; Marshmallow test")
    assert GroupNote.objects.count() == 1


def test_a_resave_updates_the_drafts(group, clinician):
    save(group, clinician)
    saved = save(group, clinician, topic="Anger", attendees=parts(group.patients[:3], plan="Next"))
    assert saved.group_note.topic == "Anger"
    assert set(ProgressNote.objects.values_list("sections__plan", flat=True)) == {"Next"}


def test_signed_notes_are_left_and_the_group_part_locked(group, clinician):
    save(group, clinician)
    note = ProgressNote.objects.get(patient=group.patients[0])
    notes.progress_note_sign(actor=clinician, note=note, password="correct-horse-battery")

    saved = save(group, clinician, attendees=parts(group.patients[:3], plan="Later"))
    assert saved.signed_unchanged == [group.patients[0].pk]
    note.refresh_from_db()
    assert note.sections["plan"] == "Continue"

    with pytest.raises(notes.Conflict) as error:
        save(group, clinician, topic="Something else", attendees=parts(group.patients[1:3]))
    assert error.value.code == "group_note_locked"
    # The database refuses it too, whatever the code path.
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        GroupNote.objects.filter(session=group).update(topic="Rewritten")


def test_an_admissions_member_cannot_write(group, admissions):
    with pytest.raises(PermissionDenied):
        save(group, admissions)
