"""The one interface through which the calendar asks a program's rules.

Scheduling owns the calendar's writes, yet a program session must keep its program's cadence
and session length, and its roster is the program's enrolled patients — rules of the programs
app, which scheduling cannot import (DESIGN.md: ``programs → scheduling → patients → clinic``).
So programs registers a ``ProgramRules`` when its app is ready (``ProgramsConfig.ready``) and
scheduling's services call it, inside their own transaction. A write that involves a program
with no rules registered raises ``ImproperlyConfigured``: skipping a cadence or a roster
silently would write a calendar that breaks the program's rules.
"""

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured

from scheduling.models import SessionKind


class ProgramRules(Protocol):
    def lock(self, program_ids: Iterable[int]) -> dict[int, Any]:
        """Lock these programs' rows (in id order, their clinics read alongside) until the
        transaction ends; returns them by id. Taken before a program's calendar is written, so
        the stays read for its rosters and the weeks counted are settled."""
        ...

    def check_series(self, program, *, weekdays: Sequence[int], duration_minutes: int) -> None:
        """Refuse (``ValidationError``) a series definition outside the program's cadence."""
        ...

    def check_week(
        self,
        program,
        *,
        sessions_after_change: Sequence,
        series_after_change=None,
        week_field: str = "starts_at",
        length_field: str = "ends_at",
    ) -> None:
        """Refuse (``ValidationError``) a change that breaks the program's weekly maximum or
        session length; called after the write, under the program's lock."""
        ...

    def stays(self, program_ids: Iterable[int]) -> list[tuple]:
        """The programs' occupying stays, as ``roster_fill_program_sessions`` takes them:
        ``(program_id, patient_id, enrollment_id, start_date, end_date_or_None, time_zone)``."""
        ...

    def note_statuses(self, session, *, user) -> dict[int, dict]:
        """``{patient_id: {"id", "status", "late"}}`` of the session's progress notes that
        ``user`` may read, in one query (the roster shows them beside attendance)."""
        ...

    def note_status_choices(self) -> list[tuple[str, str]]:
        """The ``(value, label)`` pairs a note's ``status`` in ``note_statuses`` takes."""
        ...


_rules: ProgramRules | None = None


def register_program_rules(rules: ProgramRules) -> None:
    global _rules
    _rules = rules


def program_rules() -> ProgramRules:
    if _rules is None:
        raise ImproperlyConfigured(
            "A program's session or series needs the program's rules, and none are registered: "
            "install the programs app (ProgramsConfig.ready registers them)."
        )
    return _rules


def session_note_statuses(session, *, user) -> dict[int, dict]:
    """The roster's note statuses through the registered rules; none without them (a roster
    still reads, each attendee's ``note`` null)."""
    return {} if _rules is None else _rules.note_statuses(session, user=user)


def note_status_choices() -> list[tuple[str, str]]:
    """The statuses ``session_note_statuses`` gives, through the registered rules; none without
    them (no note is shown)."""
    return [] if _rules is None else _rules.note_status_choices()


def is_program_session(program, kind: str) -> bool:
    """A session of a program other than an individual appointment: its roster is the
    program's enrolled patients and it counts in the program's week. ``program``: the program,
    its id, or None."""
    return program is not None and kind != SessionKind.INDIVIDUAL
