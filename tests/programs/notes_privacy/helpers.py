"""Notes written with the ORM (the rows the note services write), for the privacy tests."""

import base64
import datetime
import json

from programs.models import GroupNote, ProgressNote, ProgressNoteAddendum
from scheduling.models import Attendance, RosterEntry, Session


def session_of(clinic, starts_at, *, kind="group", facilitator=None, title="Evening group"):
    return Session.objects.create(
        clinic=clinic,
        title=title,
        kind=kind,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(hours=3),
        facilitator=facilitator,
    )


def attended(session, patient, *, recorded_by, status="present") -> Attendance:
    entry = RosterEntry.objects.create(session=session, patient=patient)
    return Attendance.objects.create(
        session=session,
        patient=patient,
        roster_entry=entry,
        status=status,
        checked_in_at=session.starts_at,
        recorded_by=recorded_by,
        recorded_at=session.starts_at,
    )


def group_part(session, *, author, topic="Relapse prevention") -> GroupNote:
    return GroupNote.objects.create(
        session=session,
        author=author,
        topic=topic,
        interventions="Psychoeducation and role play.",
        group_dynamics="Supportive.",
    )


def note(
    *,
    session,
    patient,
    author,
    sections,
    attendance=None,
    group=None,
    format=None,
    signed=True,
    psychotherapy=False,
    cosignature_required=False,
    cosigned_by=None,
) -> ProgressNote:
    """A note; signed an hour after the session unless ``signed`` is false."""
    signed_at = session.ends_at + datetime.timedelta(hours=1) if signed else None
    created = ProgressNote.objects.create(
        session=session,
        patient=patient,
        attendance=attendance,
        group_note=group,
        format=format or ("group" if group else "dap"),
        sections=sections,
        psychotherapy_note=psychotherapy,
        author=author,
        signed_at=signed_at,
        cosignature_required=cosignature_required if signed else False,
    )
    if cosigned_by is not None:
        created.cosigned_by, created.cosigned_at = cosigned_by, signed_at
        created.save(update_fields=["cosigned_by", "cosigned_at", "updated_at"])
    return created


def addendum(note, *, author, text) -> ProgressNoteAddendum:
    return ProgressNoteAddendum.objects.create(note=note, author=author, text=text)


def everything_in(bundle: dict) -> str:
    """The bundle as sent, with every attachment's data decoded beside it: what a recipient
    could read."""
    decoded = [
        base64.b64decode(content["attachment"]["data"]).decode()
        for entry in bundle["entry"]
        for content in entry["resource"].get("content", ())
        if "data" in content.get("attachment", {})
    ]
    return "\n".join([json.dumps(bundle, ensure_ascii=False), *decoded])


def documents(bundle: dict) -> list[dict]:
    return [
        entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "DocumentReference"
    ]


def document_text(document: dict) -> str:
    return base64.b64decode(document["content"][0]["attachment"]["data"]).decode()
