"""What the modules of notes_show/ share: the session's moments and a note made directly (the
write services are another slice's; these tests need only the rows)."""

import datetime

from programs.models import GroupNote, ProgressNote

NOTES_DUE = "/api/v1/notes-due/"
SESSIONS = "/api/v1/sessions/"
# The session: Friday 2026-11-27, 10:00–13:00 in New York; its notes are late 72 hours after.
START = datetime.datetime(2026, 11, 27, 15, tzinfo=datetime.UTC)
END = START + datetime.timedelta(hours=3)


def after_end(hours: float) -> datetime.datetime:
    return END + datetime.timedelta(hours=hours)


def note(session, patient, author, *, signed_at=None, cosign=False, cosigned_by=None, group=False):
    """A note as it stands: a draft, signed (``signed_at``), awaiting a co-signature
    (``cosign``) or co-signed (``cosigned_by``, a moment after signing)."""
    fields = {"format": "dap", "sections": {"data": "Engaged.", "assessment": "", "plan": ""}}
    if group:
        group_note, _ = GroupNote.objects.get_or_create(
            session=session,
            defaults={"author": author, "topic": "Coping skills", "interventions": "CBT"},
        )
        fields = {"format": "group", "group_note": group_note, "sections": {"participation": "x"}}
    return ProgressNote.objects.create(
        session=session,
        patient=patient,
        author=author,
        signed_at=signed_at,
        cosignature_required=cosign or cosigned_by is not None,
        cosigned_by=cosigned_by,
        cosigned_at=signed_at + datetime.timedelta(hours=1) if cosigned_by else None,
        **fields,
    )
