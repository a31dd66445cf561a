"""Telling a patient that a place is offered to them: an outbox of ``WaitlistOffer`` notices,
sent by a beat task exactly once, through the channel layer (``clinic.notifications``).

An offer queues its notice (``pending``) in the transaction that makes it; nothing is enqueued
from a request. ``deliver_due`` (beat, ``REMINDER_SCAN_SECONDS``) claims one due row at a time
with a compare-and-set under ``FOR UPDATE SKIP LOCKED``, committed before the provider is
called, then sends and records the outcome on the row only if it is still ``sending``. A row left
``sending`` past ``REMINDER_SEND_TIMEOUT_SECONDS`` was cut off mid-call and becomes ``unknown``,
never resent. Retryable provider errors go back to ``pending`` with a backoff while the offer is
open.

The channel is the patient's consent (``reminder_channels``): e-mail first, then SMS; with
neither the notice is ``skipped`` and the staff alert tells admissions to call. Push is not used
(an offer asks for a call; the app shows the offer in ``me/enrollments/``). The text names only
the clinic's public name: never the program, a level of care or treatment (42 CFR Part 2).
"""

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from clinic import notifications
from patients.models import Patient, ReminderChannel
from programs.models import NoticeStatus, WaitlistOffer
from scheduling.reminders import backoff, in_quiet_hours, quiet_hours_end

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
CLAIM_BATCH = 100
NO_CHANNEL = "No e-mail or SMS consent on file: admissions call the patient."


def notice_channel(patient: Patient) -> str:
    """The channel the patient agreed to be contacted on, e-mail before SMS; "" for none."""
    channels = patient.reminder_channels or []
    if ReminderChannel.EMAIL in channels and patient.email:
        return ReminderChannel.EMAIL
    if ReminderChannel.SMS in channels and patient.phone:
        return ReminderChannel.SMS
    return ""


def render(public_name: str) -> tuple[str, str]:
    """``(subject, text)``: the clinic's public name asks for a call, and nothing else."""
    return (
        f"Message from {public_name}",
        f"{public_name} asks you to call them as soon as you can.",
    )


def mark_cut_off(now: datetime.datetime) -> int:
    deadline = now - datetime.timedelta(seconds=settings.REMINDER_SEND_TIMEOUT_SECONDS)
    return WaitlistOffer.objects.filter(
        notice_status=NoticeStatus.SENDING, claimed_at__lt=deadline
    ).update(notice_status=NoticeStatus.UNKNOWN, last_error="Cut off while sending; not resent.")


def _claim_one(now: datetime.datetime) -> int | None:
    """Claim the oldest due notice, committed before anything is sent: SKIP LOCKED lets two
    workers pass each other, and the status test in the UPDATE (a compare-and-set) gives a row
    to one of them even if both read it."""
    with transaction.atomic():
        due = list(
            WaitlistOffer.objects.select_for_update(skip_locked=True)
            .filter(notice_status=NoticeStatus.PENDING, notice_due_at__lte=now)
            .order_by("notice_due_at", "id")
            .values_list("pk", flat=True)[:1]
        )
        if not due:
            return None
        claimed = WaitlistOffer.objects.filter(
            pk=due[0], notice_status=NoticeStatus.PENDING
        ).update(notice_status=NoticeStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
        return due[0] if claimed else None


def _outcome(offer: WaitlistOffer, now: datetime.datetime) -> dict:
    """Send one claimed notice; the fields to record."""
    if not offer.is_live(now):
        return {"notice_status": NoticeStatus.SKIPPED, "last_error": "The offer closed first."}
    # Consent is re-read now: an opt-out since the offer applies at once.
    channel = notice_channel(offer.patient)
    if not channel:
        return {"notice_status": NoticeStatus.SKIPPED, "last_error": NO_CHANNEL}
    clinic = offer.enrollment.program.clinic
    if channel == ReminderChannel.SMS and in_quiet_hours(now, clinic):
        # Not tried: back to pending for the end of the quiet hours, the attempt not counted.
        return {
            "notice_status": NoticeStatus.PENDING,
            "channel": channel,
            "notice_due_at": quiet_hours_end(now, clinic),
            "attempts": F("attempts") - 1,
        }
    subject, text = render(clinic.public_name)
    try:
        if channel == ReminderChannel.EMAIL:
            result = notifications.send_email(to=offer.patient.email, subject=subject, text=text)
        else:
            result = notifications.send_sms(to=offer.patient.phone, text=text)
    except notifications.ChannelError as error:
        retry_at = now + backoff(offer.attempts)
        retry = error.retryable and offer.attempts < MAX_ATTEMPTS and retry_at < offer.expires_at
        logger.warning(
            "Offer notice %s: %s (%s)", offer.pk, "retry" if retry else "failed", error.detail
        )
        fields = {"channel": channel, "last_error": str(error.detail)[:300]}
        if retry:
            return {**fields, "notice_status": NoticeStatus.PENDING, "notice_due_at": retry_at}
        return {**fields, "notice_status": NoticeStatus.FAILED}
    return {
        "notice_status": NoticeStatus.SENT,
        "channel": channel,
        "sent_at": now,
        "provider_message_id": result.provider_message_id,
        "last_error": "",
    }


def deliver_due(*, limit: int = CLAIM_BATCH) -> dict[str, int]:
    """Mark cut-off sends, then claim and send up to ``limit`` due notices, one at a time (a
    dying worker leaves only the row it was sending in ``sending``). Returns the count of each
    outcome."""
    mark_cut_off(timezone.now())
    outcomes: dict[str, int] = {}
    for _ in range(limit):
        now = timezone.now()  # each notice is its own use case: claimed and sent at this time
        offer_id = _claim_one(now)
        if offer_id is None:
            break
        offer = WaitlistOffer.objects.select_related("enrollment__program__clinic", "patient").get(
            pk=offer_id
        )
        fields = _outcome(offer, now)
        # Only a row still ours is written: one marked unknown meanwhile stays unknown.
        WaitlistOffer.objects.filter(pk=offer_id, notice_status=NoticeStatus.SENDING).update(
            **fields
        )
        outcomes[fields["notice_status"]] = outcomes.get(fields["notice_status"], 0) + 1
    return outcomes
