"""The program lock: one home for the row lock that serialises a program's writes (Saleor's
``lock_objects.py`` habit).

Every write that reads a program's stays or its calendar and acts on what it read takes this
lock first, in the caller's transaction:

- admissions, discharges, offers and transitions (the capacity check: the last place goes to
  exactly one request);
- creating or moving a program's sessions, creating, editing and expanding its series: the new
  sessions' rosters are filled from the stays read under the lock, so a patient admitted (or
  discharged) at the same moment is either seen by the roster fill or sees the new session in
  their own roster update, never neither; and the program's week is counted under it, so two
  concurrent sessions cannot both take the last place of a week.

Several programs are locked in id order, so two writers cannot deadlock.

The authorization lock orders every change to one payer authorization and its reviews: a
decision, a review outcome and the beat's move to exhausted or expired apply one after the
other, each to what the one before left.

The inquiry lock orders every change to one inquiry of the admissions pipeline (its status
moves, screenings, verifications, contacts, holds); the clinic's intake lock orders the
creation of inquiries for the duplicate check.
"""

from collections.abc import Iterable

from clinic.models import Clinic
from programs.models import Authorization, Inquiry, Program


def program_lock(program_id: int) -> Program:
    """Lock the program's row (with its clinic read alongside) until the transaction ends."""
    return (
        Program.objects.select_for_update(of=("self",)).select_related("clinic").get(pk=program_id)
    )


def programs_lock(program_ids: Iterable[int]) -> dict[int, Program]:
    """Lock several programs' rows in id order; returns them by id."""
    ids = sorted(set(program_ids))
    if not ids:
        return {}
    return {
        program.pk: program
        for program in Program.objects.select_for_update(of=("self",))
        .select_related("clinic")
        .filter(pk__in=ids)
        .order_by("pk")
    }


def authorization_lock(authorization_id: int) -> Authorization:
    """Lock the authorization's row (with its enrollment, program and payer read alongside)."""
    return (
        Authorization.objects.select_for_update(of=("self",))
        .select_related("enrollment__program", "payer")
        .get(pk=authorization_id)
    )


def inquiry_lock(inquiry_id: int) -> Inquiry:
    """Lock the inquiry's row (with its clinic read alongside) until the transaction ends: every
    change to an inquiry, its status above all, takes it first, so two desks moving the same
    inquiry apply one after the other, the second to what the first left."""
    return (
        Inquiry.objects.select_for_update(of=("self",)).select_related("clinic").get(pk=inquiry_id)
    )


def clinic_intake_lock(clinic_id: int) -> None:
    """Order the new inquiries of one clinic, so that of two calls about the same person taken
    at once the second sees the first when it looks for duplicates. ``FOR NO KEY UPDATE``:
    rows that merely reference the clinic are not held up."""
    Clinic.objects.select_for_update(no_key=True).filter(pk=clinic_id).exists()
