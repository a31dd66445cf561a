"""Telling a patient that a place is offered to them: an outbox of ``WaitlistOffer`` notices,
sent by a beat task exactly once, through the channel layer (``clinic.notifications``).

An offer queues its notice (``pending``) in the transaction that makes it; nothing is enqueued
from a request. ``deliver_due`` (beat, ``REMINDER_SCAN_SECONDS``) runs the shared outbox
mechanics (``programs.services.outbox``: claim one due row under ``FOR UPDATE SKIP LOCKED``,
send it once, a cut-off send ``unknown`` and never resent, retries with a backoff) with this
outbox's rule of what to send: retries only while the offer is open.

The channel is the patient's consent (``reminder_channels``): e-mail first, then SMS; with
neither the notice is ``skipped`` and the staff alert tells admissions to call. Push is not used
(an offer asks for a call; the app shows the offer in ``me/enrollments/``). The text names only
the clinic's public name: never the program, a level of care or treatment (42 CFR Part 2).
"""

import datetime

from patients.models import Patient, ReminderChannel
from programs.models import NoticeStatus, WaitlistOffer
from programs.services import outbox

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
    return outbox.call_us_text(public_name)


def _outcome(offer: WaitlistOffer, now: datetime.datetime) -> dict:
    """Send one claimed notice; the fields to record."""
    if not offer.is_live(now):
        return OFFER_NOTICES.fields(NoticeStatus.SKIPPED, last_error="The offer closed first.")
    # Consent is re-read now: an opt-out since the offer applies at once.
    channel = notice_channel(offer.patient)
    if not channel:
        return OFFER_NOTICES.fields(NoticeStatus.SKIPPED, last_error=NO_CHANNEL)
    clinic = offer.enrollment.program.clinic
    subject, text = render(clinic.public_name)
    return outbox.channel_send(
        OFFER_NOTICES,
        offer,
        clinic=clinic,
        channel=channel,
        to=offer.patient.email if channel == ReminderChannel.EMAIL else offer.patient.phone,
        subject=subject,
        text=text,
        now=now,
        retry_until=offer.expires_at,
    )


OFFER_NOTICES = outbox.Outbox(
    model=WaitlistOffer,
    status_field="notice_status",
    due_field="notice_due_at",
    related=("enrollment__program__clinic", "patient"),
    outcome=_outcome,
    label="Offer notice",
)


def deliver_due(*, limit: int = outbox.CLAIM_BATCH) -> dict[str, int]:
    """Claim and send up to ``limit`` due notices (``outbox.deliver_due``); the count of each
    outcome."""
    return outbox.deliver_due(OFFER_NOTICES, limit=limit)
