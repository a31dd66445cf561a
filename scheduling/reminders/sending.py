"""Sending a claimed reminder through its channel (clinic's notification backends) and
recording the outcomes of a group."""

import datetime
import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from clinic import notifications
from clinic.models import AuditAction, Role
from clinic.services import audit_record
from clinic.sql import Table, statement
from scheduling.models import (
    Channel,
    Device,
    Reminder,
    ReminderKind,
    ReminderStatus,
    RosterResponse,
    SessionStatus,
)
from scheduling.reminders.sql import array_literal, text_array_literal
from scheduling.reminders.texts import texts_of

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# FCM's answers for a token that will never work again (INVALID_TOKEN: an INVALID_ARGUMENT
# that FCM pins on the token, clinic.notifications.backends).
DEAD_TOKEN_CODES = frozenset({"UNREGISTERED", "NOT_FOUND", "INVALID_TOKEN"})


@dataclass(slots=True)
class Claimed:
    """A row claimed for sending, with what deciding and sending it needs (read in the claim)."""

    id: int
    kind: str
    channel: str
    attempts: int
    session_status: str
    starts_at: datetime.datetime
    public_name: str
    time_zone: str
    email: str
    phone: str
    consented: bool  # the patient's channels include this row's
    roster_entry_id: int | None
    response: str | None
    devices: list | None


# A group's outcomes in one statement, each row's read off the arrays at its id's position. Only
# rows still ``sending`` are written: one marked ``unknown`` meanwhile stays so. ``pending``
# without a retry time gives back a claimed row that was not tried (its attempt not counted).
_RECORD_SQL = statement(
    """
UPDATE {r}
SET ({reminder.status}, {reminder.last_error}, {reminder.provider_message_id},
     {reminder.sent_at}, {reminder.scheduled_for}, {reminder.attempts},
     {reminder.updated_at}) = (
    SELECT v.status,
        v.last_error,
        CASE WHEN v.status = 'sent' THEN v.provider_message_id ELSE {r.provider_message_id} END,
        CASE WHEN v.status = 'sent' THEN %(now)s ELSE {r.sent_at} END,
        COALESCE(v.scheduled_for, {r.scheduled_for}),
        CASE WHEN v.status = 'pending' AND v.scheduled_for IS NULL
             THEN {r.attempts} - 1 ELSE {r.attempts} END,
        %(now)s
    FROM (SELECT (%(statuses)s::text[])[i] AS status,
                 (%(errors)s::text[])[i] AS last_error,
                 (%(provider_ids)s::text[])[i] AS provider_message_id,
                 (%(retry_at)s::timestamptz[])[i] AS scheduled_for
          FROM array_position(%(ids)s::bigint[], {r.id}) AS i) v
)
WHERE {r.id} = ANY(ARRAY(SELECT unnest(%(ids)s::bigint[]))) AND {r.status} = 'sending'
""",
    reminder=Table(Reminder),
    r=Table(Reminder, "r"),
)


# The common outcome alone: rows sent, each with its provider's id. Most of a group's outcomes
# are this; written without the general statement's per-row subquery over five arrays, which
# costs a sixth of recording them.
_RECORD_SENT_SQL = statement(
    """
UPDATE {r}
SET {reminder.status} = 'sent', {reminder.last_error} = '',
    {reminder.provider_message_id} =
        (%(sent_provider_ids)s::text[])[array_position(%(sent_ids)s::bigint[], {r.id})],
    {reminder.sent_at} = %(now)s, {reminder.updated_at} = %(now)s
WHERE {r.id} = ANY(ARRAY(SELECT unnest(%(sent_ids)s::bigint[]))) AND {r.status} = 'sending'
""",
    reminder=Table(Reminder),
    r=Table(Reminder, "r"),
)


def record_statements(outcomes: list[tuple]) -> tuple[list[str], dict]:
    """The statements that record ``outcomes`` (``(id, status, last_error,
    provider_message_id, retry_at)``) and their parameters: the rows sent in one, any others
    in a second (none for no outcomes). ``now`` is the caller's."""
    sent = [outcome for outcome in outcomes if outcome[1] == ReminderStatus.SENT]
    others = [outcome for outcome in outcomes if outcome[1] != ReminderStatus.SENT]
    statements, params = [], {}
    if sent:
        ids, _statuses, _errors, provider_ids, _retry_at = zip(*sent, strict=True)
        statements.append(_RECORD_SENT_SQL)
        params |= {
            "sent_ids": array_literal(ids),
            "sent_provider_ids": text_array_literal(provider_ids),
        }
    if others:
        ids, statuses, errors, provider_ids, retry_at = zip(*others, strict=True)
        statements.append(_RECORD_SQL)
        params |= {
            "ids": array_literal(ids),
            "statuses": text_array_literal(statuses),
            "errors": text_array_literal(errors),
            "provider_ids": text_array_literal(provider_ids),
            "retry_at": text_array_literal(
                None if at is None else at.isoformat() for at in retry_at
            ),
        }
    return statements, params


def record(outcomes: list[tuple]) -> None:
    """Record ``outcomes`` on their own (see ``record_statements``; a drain records a group's
    with its next claim)."""
    statements, params = record_statements(outcomes)
    params["now"] = timezone.now()
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, params)


def _why_not_send(row: Claimed, now: datetime.datetime) -> tuple[str, str] | None:
    """``(status, reason)`` when the reminder must no longer go out, else None."""
    if row.kind == ReminderKind.REMINDER:
        if row.session_status != SessionStatus.SCHEDULED:
            return ReminderStatus.CANCELLED, "The session is not scheduled any more."
        if row.starts_at <= now:
            return ReminderStatus.SKIPPED, "The session has started."
        if row.roster_entry_id is None:
            return ReminderStatus.CANCELLED, "The patient left the roster."
        if row.response == RosterResponse.DECLINED:
            return ReminderStatus.CANCELLED, "The patient declined the session."
    # Consent is read when the row is claimed, right before its group goes out: an opt-out
    # applies to pending rows at once.
    if not row.consented:
        return ReminderStatus.CANCELLED, "The patient opted out of this channel."
    return None


def _deliver(row: Claimed, subject: str, text: str, email_connection) -> str:
    if row.channel == Channel.EMAIL:
        return notifications.send_email(
            to=row.email, subject=subject, text=text, connection=email_connection
        ).provider_message_id
    if row.channel == Channel.SMS:
        return notifications.send_sms(to=row.phone, text=text).provider_message_id
    if not row.devices:
        raise notifications.ChannelError("No device registered for push.", retryable=False)
    ids, errors = [], []
    for device_id, platform, token in row.devices:
        try:
            result = notifications.send_push(
                token=token, platform=platform, title=subject, body=text
            )
        except notifications.ChannelError as error:
            if error.code in DEAD_TOKEN_CODES and not error.retryable:
                # The app was removed, the token replaced or never valid: never push to it again.
                _device_forget_dead(device_id=int(device_id), token=token)
            errors.append(error)
        else:
            ids.append(result.provider_message_id)
    if not ids:
        # Retrying helps only if some device failed for a passing reason.
        retryable = [error for error in errors if error.retryable]
        raise retryable[0] if retryable else errors[0]
    # Reached at least one of the patient's phones: sent (a retry would double it on the others).
    return ",".join(ids)[:200]


def _device_forget_dead(*, device_id: int, token: str) -> None:
    """Forget a device whose token the provider refused for good, audited like the app's own
    sign-out (no actor: the system). Only if the row still holds that token."""
    # Imported here: the services module imports this one.
    from scheduling.services import device_forget

    with transaction.atomic():
        device = (
            Device.objects.select_for_update(of=("self",))
            .select_related("patient")
            .filter(pk=device_id, token=token)
            .first()
        )
        if device is not None:
            device_forget(actor=None, device=device)


def backoff(attempt: int) -> datetime.timedelta:
    """1, 2, 4, 8 minutes... capped at 30."""
    return datetime.timedelta(minutes=min(2 ** (attempt - 1), 30))


def send_one(row: Claimed, now: datetime.datetime, email_connection) -> tuple:
    """Send one claimed row (an e-mail through ``email_connection``); returns its outcome for
    ``record``."""
    refusal = _why_not_send(row, now)
    if refusal is not None:
        status, reason = refusal
        return (row.id, status, reason, "", None)
    subject, text = texts_of(row.kind, row.public_name, row.time_zone, row.starts_at)
    try:
        provider_id = _deliver(row, subject, text, email_connection)
    except notifications.ChannelError as error:
        return _failure(row, error)
    return (row.id, ReminderStatus.SENT, "", provider_id, None)


def _failure(row: Claimed, error) -> tuple:
    now = timezone.now()
    retry_at = now + backoff(row.attempts)
    deadline = row.starts_at if row.kind == ReminderKind.REMINDER else None
    if (
        error.retryable
        and row.attempts < MAX_ATTEMPTS
        and (deadline is None or retry_at < deadline)
    ):
        status, when = ReminderStatus.PENDING, retry_at
    else:
        status, when = ReminderStatus.FAILED, None
    logger.warning("Reminder %s: %s (%s)", row.id, status, error.detail)
    return (row.id, status, str(error.detail)[:300], "", when)


# Who may retry a failed reminder, in the API and the admin: the front desk answers "I never got
# my reminder"; supervisors oversee.
RETRY_ROLES = (Role.ADMISSIONS, Role.SUPERVISOR)


@transaction.atomic
def retry_failed(*, actor, reminder: Reminder) -> bool:
    """Staff retry of a failed row: back to pending now (if its session is still ahead), audited
    as ``actor``'s update. Returns whether it was retried."""
    now = timezone.now()
    retried = (
        Reminder.objects.filter(
            Q(kind=ReminderKind.CANCELLATION) | Q(session__starts_at__gt=now),
            pk=reminder.pk,
            status=ReminderStatus.FAILED,
        ).update(status=ReminderStatus.PENDING, scheduled_for=now, updated_at=now)
        == 1
    )
    if retried:
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            obj=reminder,
            clinic=reminder.session.clinic_id,
            patient_id=reminder.patient_id,
        )
    return retried
