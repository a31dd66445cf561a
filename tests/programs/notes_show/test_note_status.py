"""A note's status has one definition (``programs.models``): the Python property, the SQL
expression, the per-status filters and the notes-due condition (the partial index's too) agree on
a note in every state the constraints allow."""

import pytest

from programs.models import (
    NOTE_DUE_Q,
    NOTE_DUE_STATUSES,
    ProgressNote,
    ProgressNoteStatus,
    progress_note_status_expr,
    progress_note_status_q,
)
from tests.programs.notes_show.helpers import after_end, note

pytestmark = pytest.mark.django_db

# The patient's first name: (signed, co-signature required, co-signed) → status.
STATES = {
    "Ana": ((False, False, False), ProgressNoteStatus.DRAFT),
    "Ben": ((False, True, False), ProgressNoteStatus.DRAFT),
    "Cy": ((True, False, False), ProgressNoteStatus.SIGNED),
    "Dee": ((True, True, False), ProgressNoteStatus.AWAITING_COSIGNATURE),
    "Eve": ((True, True, True), ProgressNoteStatus.SIGNED),
}


def test_every_status_has_a_state_in_the_table():
    assert {status for _state, status in STATES.values()} == set(ProgressNoteStatus)


def test_python_and_sql_give_each_note_the_same_status(session, patients, facilitator, supervisor):
    # given a note in each state
    for patient in patients:
        (signed, required, cosigned), _status = STATES[patient.first_name]
        note(
            session,
            patient,
            facilitator,
            signed_at=after_end(1) if signed else None,
            cosign=required,
            cosigned_by=supervisor if cosigned else None,
        )
    notes = ProgressNote.objects.select_related("patient")

    # when
    in_python = {n.patient.first_name: n.status for n in notes}
    in_sql = dict(
        notes.annotate(s=progress_note_status_expr()).values_list("patient__first_name", "s")
    )
    by_filter = {name: [] for name in STATES}
    for status in ProgressNoteStatus:
        for name in notes.filter(progress_note_status_q(status)).values_list(
            "patient__first_name", flat=True
        ):
            by_filter[name].append(status)
    due = set(notes.filter(NOTE_DUE_Q).values_list("patient__first_name", flat=True))

    # then
    expected = {name: status for name, (_state, status) in STATES.items()}
    assert in_python == expected
    assert in_sql == expected
    assert by_filter == {name: [status] for name, status in expected.items()}
    assert due == {name for name, status in expected.items() if status in NOTE_DUE_STATUSES}
    assert due == {"Ana", "Ben", "Dee"}


def test_the_notes_due_index_holds_exactly_the_notes_due():
    (index,) = (i for i in ProgressNote._meta.indexes if i.name == "progressnote_due")

    assert index.condition == NOTE_DUE_Q
