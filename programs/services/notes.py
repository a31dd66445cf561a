"""Progress notes (issue 26): a group session's notes written once (the group part) plus a few
lines per attendee, individual sessions' DAP/SOAP notes, signing with re-authentication,
co-signature and signed addenda.

Who writes: clinicians and supervisors of the session's clinic (a facilitator who is neither
does not); a group's notes, only its facilitator and the clinic's supervisors
(``group_note_writes``); a draft is changed and signed only by its author; a supervisor of the
clinic co-signs and may add addenda. Every write is audited with the patient's id. Locks: the
session row for a group save (two writers saving the same group serialise), the note row for a
note's own writes; the database triggers refuse any change of a signed note as the backstop.
"""

import datetime
import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from clinic import signin
from clinic.errors import Conflict, Forbidden
from clinic.models import AuditAction, ClinicMembership, Role
from clinic.selectors import CLINICAL_ROLES, acts_for_clinic, is_clinic_staff
from clinic.services import audit_record
from clinic.versions import refresh_version, require_version
from programs.models import (
    NOTE_SECTIONS,
    GroupNote,
    ProgressNote,
    ProgressNoteAddendum,
    ProgressNoteFormat,
)
from programs.selectors import group_note_writes
from scheduling.models import (
    ATTENDED,
    Attendance,
    AttendanceStatus,
    RosterEntry,
    Session,
    SessionKind,
)

GROUP_PART_FIELDS = ("topic", "interventions", "group_dynamics")
# Names this short ("Al", "Jo") are too often ordinary words to refuse a text for.
NAME_MIN_LETTERS = 3
NAMES_A_PATIENT = (
    "This names a patient on this session's roster: the group part is shared by every "
    "attendee's note, so it must not name anyone."
)
REAUTHENTICATION_FAILED = "Confirm it is you: your password or your authenticator's code."


# Helpers ------------------------------------------------------------------------------------------


def _require_clinical(actor, clinic_id: int, what: str) -> None:
    if not acts_for_clinic(actor, clinic_id=clinic_id, roles=CLINICAL_ROLES):
        raise PermissionDenied(f"Only a clinician or supervisor of the clinic {what}.")


def _is_supervisor(actor, clinic_id: int) -> bool:
    return actor.is_superuser or is_clinic_staff(
        actor, clinic_id=clinic_id, roles=(Role.SUPERVISOR,)
    )


def _fold(text: str) -> str:
    """Case- and accent-insensitive form: "Zoë" and "ZOE" both read "zoe"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _name_words(patients: Iterable) -> set[str]:
    words = set()
    for patient in patients:
        for name in (patient.first_name, patient.last_name, getattr(patient, "preferred_name", "")):
            for word in re.split(r"[\s\-]+", _fold(name or "")):
                if sum(c.isalpha() for c in word) >= NAME_MIN_LETTERS:
                    words.add(word)
    return words


def group_part_names_check(values: dict[str, str], patients: Iterable) -> None:
    """400 on each field of the group part that contains a rostered patient's first or last name
    as a whole word; the message never repeats the name."""
    words = _name_words(patients)
    if not words:
        return
    pattern = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, sorted(words))) + r")(?!\w)")
    errors = {
        name: [NAMES_A_PATIENT] for name, text in values.items() if pattern.search(_fold(text))
    }
    if errors:
        raise ValidationError(errors)


def sections_clean(note_format: str, sections: dict, *, field_name: str = "sections") -> dict:
    """The note's sections as ``{key: stripped text}``; 400 for keys the format does not have."""
    if not isinstance(sections, dict):
        raise ValidationError({field_name: ["An object of section: text."]})
    allowed = NOTE_SECTIONS[note_format]
    unknown = sorted(set(sections) - set(allowed))
    if unknown:
        raise ValidationError(
            {field_name: [f"Unknown section(s) {', '.join(unknown)}: use {', '.join(allowed)}."]}
        )
    cleaned = {}
    for key, value in sections.items():
        if value is not None and not isinstance(value, str):
            raise ValidationError({field_name: [f"Section {key} is text."]})
        cleaned[key] = (value or "").strip()
    return cleaned


def _lock_note(note: ProgressNote) -> ProgressNote:
    return (
        ProgressNote.objects.select_for_update(of=("self",))
        .select_related("session", "group_note")
        .get(pk=note.pk)
    )


def _require_author(actor, note: ProgressNote, what: str) -> None:
    if note.author_id != actor.pk:
        raise PermissionDenied(f"Only the note's author {what}.")


def _require_draft(note: ProgressNote) -> None:
    if note.is_signed:
        raise Conflict(
            "This note is signed and can no longer change; add a signed addendum instead.",
            code="note_signed",
        )


# Group sessions -----------------------------------------------------------------------------------


@dataclass
class GroupNoteSaved:
    group_note: GroupNote
    notes: list[ProgressNote] = field(default_factory=list)
    # Listed patients whose note is signed already: left as they are.
    signed_unchanged: list[int] = field(default_factory=list)


def _by_patient(rows: Iterable[dict], *, field_name: str) -> dict[int, dict]:
    by_patient = {}
    for index, row in enumerate(rows):
        patient_id = row["patient"]
        patient_id = getattr(patient_id, "pk", patient_id)
        if patient_id in by_patient:
            raise ValidationError(
                {field_name: [f"Patient {patient_id} is listed more than once (row {index})."]}
            )
        by_patient[patient_id] = row
    return by_patient


@transaction.atomic
def group_note_save(
    *,
    actor,
    session: Session,
    topic: str,
    interventions: str,
    group_dynamics: str = "",
    attendees: Iterable[dict],
    absences: Iterable[dict] = (),
    expected_versions: Collection[int] | None = None,
    now: datetime.datetime | None = None,
) -> GroupNoteSaved:
    """Write a group session's notes: the group part once, a draft note for each listed
    attendee present or late (``attendees``: ``{patient, participation, response, progress,
    plan}``), an absence note for each listed absent or excused patient (``absences``:
    ``{patient, note}``). Every present or late patient must be listed unless their note is
    signed; signed notes are left as they are. All or nothing."""
    now = now or timezone.now()
    # Two writers saving the same group: the second waits and sees the first's notes.
    session = Session.objects.select_for_update(of=("self",)).get(pk=session.pk)
    if session.kind == SessionKind.INDIVIDUAL:
        raise ValidationError(
            {"session": ["An individual session's note is written as a DAP or SOAP note."]}
        )
    if not group_note_writes(session, user=actor):
        raise PermissionDenied(
            "Only the session's facilitator or a supervisor of the clinic writes its group note."
        )
    attendees = _by_patient(attendees, field_name="attendees")
    absences = _by_patient(absences, field_name="absences")
    both = sorted(set(attendees) & set(absences))
    if both:
        raise ValidationError(
            {"absences": [f"Patient(s) {', '.join(map(str, both))} are listed as attendees too."]}
        )

    attendance = {
        a.patient_id: a
        for a in Attendance.objects.filter(session=session).select_related("patient")
    }
    roster_patients = [
        entry.patient
        for entry in RosterEntry.objects.filter(session=session).select_related("patient")
    ]
    existing = {n.patient_id: n for n in ProgressNote.objects.filter(session=session)}

    wrong = [p for p in attendees if p not in attendance or attendance[p].status not in ATTENDED]
    if wrong:
        raise ValidationError(
            {
                "attendees": [
                    f"Patient {p} is not marked present or late at this session." for p in wrong
                ]
            }
        )
    absent_statuses = (AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED)
    wrong = [
        p for p in absences if p not in attendance or attendance[p].status not in absent_statuses
    ]
    if wrong:
        raise ValidationError(
            {
                "absences": [
                    f"Patient {p} is not marked absent or excused at this session." for p in wrong
                ]
            }
        )
    missing = sorted(
        p
        for p, a in attendance.items()
        if a.status in ATTENDED
        and p not in attendees
        and not (p in existing and existing[p].is_signed)
    )
    if missing:
        raise ValidationError(
            {
                "attendees": [
                    "Write a note for every patient present or late; missing: "
                    + ", ".join(map(str, missing))
                    + "."
                ]
            }
        )

    group_part = {
        "topic": (topic or "").strip(),
        "interventions": (interventions or "").strip(),
        "group_dynamics": (group_dynamics or "").strip(),
    }
    required = {name: ["This field is required."] for name in ("topic", "interventions")}
    required = {name: msg for name, msg in required.items() if not group_part[name]}
    if required:
        raise ValidationError(required)
    group_part_names_check(
        group_part, [*roster_patients, *(a.patient for a in attendance.values())]
    )
    attendee_sections = {
        p: sections_clean(
            ProgressNoteFormat.GROUP,
            {key: row.get(key, "") for key in NOTE_SECTIONS[ProgressNoteFormat.GROUP]},
            field_name="attendees",
        )
        for p, row in attendees.items()
    }
    absence_sections = {}
    for p, row in absences.items():
        text = (row.get("note") or "").strip()
        if not text:
            raise ValidationError({"absences": [f"Write the absence note of patient {p}."]})
        absence_sections[p] = {"note": text}

    group_note = GroupNote.objects.select_for_update().filter(session=session).first()
    audit_patients = sorted(
        {*attendees, *absences}
        | {n.patient_id for n in existing.values() if n.format == ProgressNoteFormat.GROUP}
    )
    if group_note is None:
        group_note = GroupNote.objects.create(session=session, author=actor, **group_part)
        for patient_id in audit_patients or [None]:
            audit_record(
                actor=actor,
                action=AuditAction.CREATE,
                obj=group_note,
                clinic=session.clinic_id,
                patient_id=patient_id,
            )
    else:
        require_version(group_note, expected_versions)
        changed = [name for name, value in group_part.items() if getattr(group_note, name) != value]
        if changed:
            if group_note.notes.filter(signed_at__isnull=False).exists():
                raise Conflict(
                    "A note of this group is signed: the group part can no longer change "
                    "(add addenda to the notes instead).",
                    code="group_note_locked",
                )
            for name in changed:
                setattr(group_note, name, group_part[name])
            group_note.save(update_fields=[*changed, "updated_at"])
            refresh_version(group_note)
            for patient_id in audit_patients or [None]:
                audit_record(
                    actor=actor,
                    action=AuditAction.UPDATE,
                    obj=group_note,
                    clinic=session.clinic_id,
                    patient_id=patient_id,
                )

    saved = GroupNoteSaved(group_note=group_note)
    writes = [
        *((p, ProgressNoteFormat.GROUP, s) for p, s in attendee_sections.items()),
        *((p, ProgressNoteFormat.ABSENCE, s) for p, s in absence_sections.items()),
    ]
    for patient_id, note_format, sections in sorted(writes, key=lambda w: w[0]):
        note = existing.get(patient_id)
        if note is not None and note.is_signed:
            saved.signed_unchanged.append(patient_id)
            continue
        saved.notes.append(
            _draft_write(
                actor=actor,
                note=note,
                session=session,
                attendance=attendance[patient_id],
                note_format=note_format,
                sections=sections,
                group_note=group_note if note_format == ProgressNoteFormat.GROUP else None,
            )
        )
    return saved


def _draft_write(*, actor, note, session, attendance, note_format, sections, group_note):
    """Create the patient's draft, or rewrite the actor's own draft (another author's draft is
    theirs to change)."""
    if note is None:
        note = ProgressNote.objects.create(
            session=session,
            patient_id=attendance.patient_id,
            attendance=attendance,
            group_note=group_note,
            format=note_format,
            sections=sections,
            author=actor,
        )
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            obj=note,
            clinic=session.clinic_id,
            patient_id=note.patient_id,
        )
        return note
    note = _lock_note(note)
    _require_draft(note)
    if note.author_id != actor.pk:
        raise PermissionDenied(
            f"The draft note of patient {note.patient_id} is another clinician's to change."
        )
    note.format, note.sections, note.group_note = note_format, sections, group_note
    note.save(update_fields=["format", "sections", "group_note", "updated_at"])
    refresh_version(note)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=note,
        clinic=session.clinic_id,
        patient_id=note.patient_id,
    )
    return note


# Individual sessions ------------------------------------------------------------------------------


@transaction.atomic
def individual_note_save(
    *,
    actor,
    session: Session,
    patient,
    sections: dict,
    psychotherapy_note: bool = False,
    expected_versions: Collection[int] | None = None,
) -> ProgressNote:
    """The progress note of an individual appointment in the clinic's ``note_format`` (DAP or
    SOAP): created, or the author's draft rewritten."""
    session = (
        Session.objects.select_for_update(of=("self",)).select_related("clinic").get(pk=session.pk)
    )
    if session.kind != SessionKind.INDIVIDUAL:
        raise ValidationError(
            {"session": ["A group session's notes are written through its group note."]}
        )
    _require_clinical(actor, session.clinic_id, "writes a session's notes")
    patient_id = getattr(patient, "pk", patient)
    if not RosterEntry.objects.filter(session=session, patient_id=patient_id).exists():
        raise ValidationError({"patient": [f"Patient {patient_id} is not on this session."]})
    note_format = session.clinic.note_format
    sections = sections_clean(note_format, sections)
    attendance = Attendance.objects.filter(session=session, patient_id=patient_id).first()
    note = ProgressNote.objects.filter(session=session, patient_id=patient_id).first()
    if note is None:
        note = ProgressNote.objects.create(
            session=session,
            patient_id=patient_id,
            attendance=attendance,
            format=note_format,
            sections=sections,
            psychotherapy_note=bool(psychotherapy_note),
            author=actor,
        )
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            obj=note,
            clinic=session.clinic_id,
            patient_id=patient_id,
        )
        return note
    note = _lock_note(note)
    require_version(note, expected_versions, patient_id=patient_id)
    _require_draft(note)
    _require_author(actor, note, "changes a draft")
    note.format, note.sections = note_format, sections
    note.psychotherapy_note = bool(psychotherapy_note)
    note.save(update_fields=["format", "sections", "psychotherapy_note", "updated_at"])
    refresh_version(note)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=note,
        clinic=session.clinic_id,
        patient_id=patient_id,
    )
    return note


@transaction.atomic
def progress_note_update(
    *, actor, note: ProgressNote, sections: dict, expected_versions: Collection[int] | None
) -> ProgressNote:
    """Change sections of a draft (the keys given; the others stay), by its author only."""
    note = _lock_note(note)
    require_version(note, expected_versions, patient_id=note.patient_id)
    _require_author(actor, note, "changes a draft")
    _require_draft(note)
    sections = sections_clean(note.format, sections)
    merged = {**note.sections, **sections}
    if merged != note.sections:
        note.sections = merged
        note.save(update_fields=["sections", "updated_at"])
        refresh_version(note)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=note,
        clinic=note.session.clinic_id,
        patient_id=note.patient_id,
    )
    return note


# Signing ------------------------------------------------------------------------------------------


def reauthenticate(user, *, password: str | None = None, otp_token: str | None = None) -> None:
    """403 ``reauthentication_failed`` unless ``password`` is the user's or ``otp_token`` is a
    current code of their confirmed authenticator. Runs outside the caller's transaction, so a
    wrong code's throttle count on the device is kept."""
    ok = False
    if password:
        ok = user.check_password(password)
    elif otp_token:
        ok = signin.second_factor_verify(user, otp_token) is not None
    if not ok:
        raise Forbidden(REAUTHENTICATION_FAILED, code="reauthentication_failed")


def _sign_check(note: ProgressNote) -> None:
    if note.format == ProgressNoteFormat.GROUP:
        blank = [
            key for key in NOTE_SECTIONS[note.format] if not note.sections.get(key, "").strip()
        ]
        if blank:
            raise ValidationError({"sections": [f"Write {', '.join(blank)} before signing."]})
    elif not any((text or "").strip() for text in note.sections.values()):
        raise ValidationError({"sections": ["Write at least one section before signing."]})


def progress_note_sign(
    *, actor, note: ProgressNote, password=None, otp_token=None, now=None
) -> ProgressNote:
    """The author signs the draft after re-authenticating; from then on the database locks it.
    A signature by staff whose membership needs co-signature waits for a supervisor's."""
    if note.author_id != actor.pk:
        raise PermissionDenied("Only the note's author signs it.")
    reauthenticate(actor, password=password, otp_token=otp_token)
    return _sign(actor=actor, note=note, now=now or timezone.now())


@transaction.atomic
def _sign(*, actor, note: ProgressNote, now: datetime.datetime) -> ProgressNote:
    note = _lock_note(note)
    _require_author(actor, note, "signs it")
    _require_draft(note)
    _sign_check(note)
    note.signed_at = now
    note.cosignature_required = ClinicMembership.objects.filter(
        user=actor, clinic_id=note.session.clinic_id, requires_cosignature=True
    ).exists()
    note.save(update_fields=["signed_at", "cosignature_required", "updated_at"])
    refresh_version(note)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=note,
        clinic=note.session.clinic_id,
        patient_id=note.patient_id,
    )
    return note


def progress_note_cosign(
    *, actor, note: ProgressNote, password=None, otp_token=None, now=None
) -> ProgressNote:
    """A supervisor of the clinic, not the author, co-signs a note awaiting co-signature."""
    clinic_id = note.session.clinic_id
    if not _is_supervisor(actor, clinic_id):
        raise PermissionDenied("Only a supervisor of the clinic co-signs a note.")
    if note.author_id == actor.pk:
        raise PermissionDenied("A note is co-signed by a supervisor other than its author.")
    reauthenticate(actor, password=password, otp_token=otp_token)
    return _cosign(actor=actor, note=note, now=now or timezone.now())


@transaction.atomic
def _cosign(*, actor, note: ProgressNote, now: datetime.datetime) -> ProgressNote:
    note = _lock_note(note)
    if not note.awaiting_cosignature:
        raise Conflict(
            "This note is not awaiting a co-signature.", code="note_not_awaiting_cosignature"
        )
    note.cosigned_by, note.cosigned_at = actor, now
    note.save(update_fields=["cosigned_by", "cosigned_at", "updated_at"])
    refresh_version(note)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=note,
        clinic=note.session.clinic_id,
        patient_id=note.patient_id,
    )
    return note


@transaction.atomic
def progress_note_addendum_add(
    *, actor, note: ProgressNote, text: str, now: datetime.datetime | None = None
) -> ProgressNoteAddendum:
    """A signed correction or addition to a signed note, by its author or a supervisor."""
    note = _lock_note(note)
    clinic_id = note.session.clinic_id
    if note.author_id != actor.pk and not _is_supervisor(actor, clinic_id):
        raise PermissionDenied("Only the note's author or a supervisor adds an addendum.")
    if not note.is_signed:
        raise Conflict(
            "An addendum goes to a signed note; edit the draft instead.", code="note_not_signed"
        )
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": ["An addendum needs its text."]})
    addendum = ProgressNoteAddendum.objects.create(
        note=note, text=text, author=actor, signed_at=now or timezone.now()
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=addendum,
        clinic=clinic_id,
        patient_id=note.patient_id,
    )
    return addendum
