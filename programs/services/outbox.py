"""The mechanics the programs app's small outboxes share: waitlist offer notices
(``waitlist_notices``) and callback requests to callers (``inquiry_followup``).

A row is queued ``pending`` with a due time in the transaction that decides to send it; nothing
is enqueued from a request. ``deliver_due`` (beat) claims one due row at a time with a
compare-and-set under ``FOR UPDATE SKIP LOCKED``, committed before the provider is called, then
asks the outbox's ``outcome`` to send it (``channel_send``) and records the fields it returns on
the row only if it is still ``sending``. A row left ``sending`` past
``REMINDER_SEND_TIMEOUT_SECONDS`` was cut off mid-call and becomes ``unknown``, never resent.
Retryable provider errors go back to ``pending`` with a backoff, bounded by ``MAX_ATTEMPTS``
and the row's own deadline; an SMS due in the clinic's quiet hours waits for their end.

Each outbox names its model and the two fields that differ between them (status and due time);
the others (``channel``, ``attempts``, ``claimed_at``, ``sent_at``, ``provider_message_id``,
``last_error``) are spelled the same on every outbox model.
"""

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from clinic import notifications
from clinic.models import Clinic
from patients.models import ReminderChannel
from programs.models import NoticeStatus
from scheduling.reminders import backoff, in_quiet_hours, quiet_hours_end

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
CLAIM_BATCH = 100


@dataclass(frozen=True)
class Outbox:
    """One outbox: its model, its status and due-time fields, what to read alongside a claimed
    row, and ``outcome(row, now) -> fields``, which sends one claimed row (or decides not to)
    and returns the fields to record (built with ``fields``/``channel_send``)."""

    model: type[models.Model]
    status_field: str
    due_field: str
    related: tuple[str, ...]
    outcome: Callable[[models.Model, datetime.datetime], dict]
    label: str

    def fields(self, status: str, *, due_at: datetime.datetime | None = None, **others) -> dict:
        """The fields to record: the status (and a new due time) under this outbox's names."""
        values = {self.status_field: status, **others}
        if due_at is not None:
            values[self.due_field] = due_at
        return values


def call_us_text(public_name: str) -> tuple[str, str]:
    """``(subject, text)`` of a message that asks for a call: the clinic's public name and
    nothing else (42 CFR Part 2: never the program, a level of care or treatment)."""
    return (
        f"Message from {public_name}",
        f"{public_name} asks you to call them as soon as you can.",
    )


def mark_cut_off(outbox: Outbox, now: datetime.datetime) -> int:
    deadline = now - datetime.timedelta(seconds=settings.REMINDER_SEND_TIMEOUT_SECONDS)
    return outbox.model.objects.filter(
        **{outbox.status_field: NoticeStatus.SENDING, "claimed_at__lt": deadline}
    ).update(**outbox.fields(NoticeStatus.UNKNOWN, last_error="Cut off while sending; not resent."))


def claim_one(outbox: Outbox, now: datetime.datetime) -> int | None:
    """Claim the oldest due row, committed before anything is sent: SKIP LOCKED lets two
    workers pass each other, and the status test in the UPDATE (a compare-and-set) gives a row
    to one of them even if both read it."""
    pending = {outbox.status_field: NoticeStatus.PENDING}
    with transaction.atomic():
        due = list(
            outbox.model.objects.select_for_update(skip_locked=True)
            .filter(**pending, **{f"{outbox.due_field}__lte": now})
            .order_by(outbox.due_field, "id")
            .values_list("pk", flat=True)[:1]
        )
        if not due:
            return None
        claimed = outbox.model.objects.filter(pk=due[0], **pending).update(
            **outbox.fields(NoticeStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
        )
        return due[0] if claimed else None


def channel_send(
    outbox: Outbox,
    row: models.Model,
    *,
    clinic: Clinic,
    channel: str,
    to: str,
    subject: str,
    text: str,
    now: datetime.datetime,
    retry_until: datetime.datetime | None = None,
) -> dict:
    """Send one claimed ``row`` by e-mail or SMS through the channel layer; the fields to
    record. An SMS in the clinic's quiet hours is not tried: back to pending for their end, the
    attempt not counted. A retryable error goes back to pending with a backoff while attempts
    are left and the retry falls before ``retry_until`` (the row's deadline, if any)."""
    if channel == ReminderChannel.SMS and in_quiet_hours(now, clinic):
        return outbox.fields(
            NoticeStatus.PENDING,
            due_at=quiet_hours_end(now, clinic),
            channel=channel,
            attempts=F("attempts") - 1,
        )
    try:
        if channel == ReminderChannel.EMAIL:
            result = notifications.send_email(to=to, subject=subject, text=text)
        else:
            result = notifications.send_sms(to=to, text=text)
    except notifications.ChannelError as error:
        retry_at = now + backoff(row.attempts)
        retry = (
            error.retryable
            and row.attempts < MAX_ATTEMPTS
            and (retry_until is None or retry_at < retry_until)
        )
        # The row's id and the provider's reason only: no address, no text.
        logger.warning(
            "%s %s: %s (%s)", outbox.label, row.pk, "retry" if retry else "failed", error.detail
        )
        failure = {"channel": channel, "last_error": str(error.detail)[:300]}
        if retry:
            return outbox.fields(NoticeStatus.PENDING, due_at=retry_at, **failure)
        return outbox.fields(NoticeStatus.FAILED, **failure)
    return outbox.fields(
        NoticeStatus.SENT,
        channel=channel,
        sent_at=now,
        provider_message_id=result.provider_message_id,
        last_error="",
    )


def deliver_due(outbox: Outbox, *, limit: int = CLAIM_BATCH) -> dict[str, int]:
    """Mark cut-off sends, then claim and send up to ``limit`` due rows, one at a time (a
    dying worker leaves only the row it was sending in ``sending``). Returns the count of each
    outcome."""
    mark_cut_off(outbox, timezone.now())
    outcomes: dict[str, int] = {}
    for _ in range(limit):
        now = timezone.now()  # each row is its own use case: claimed and sent at this time
        row_id = claim_one(outbox, now)
        if row_id is None:
            break
        row = outbox.model.objects.select_related(*outbox.related).get(pk=row_id)
        fields = outbox.outcome(row, now)
        # Only a row still ours is written: one marked unknown meanwhile stays unknown.
        still_ours = {outbox.status_field: NoticeStatus.SENDING}
        outbox.model.objects.filter(pk=row_id, **still_ours).update(**fields)
        status = fields[outbox.status_field]
        outcomes[status] = outcomes.get(status, 0) + 1
    return outcomes
