"""E-mail to staff about their alerts, through the same channel layer as the reminders.

``plan`` adds one outbox row per recipient when an alert is raised (in the raiser's
transaction; the unique constraint makes a second row impossible). ``deliver_due`` runs in a
beat task: it claims due rows (``FOR UPDATE SKIP LOCKED``, committed before any mail server is
called), sends, and records the outcome. A row left ``sending`` past
``REMINDER_SEND_TIMEOUT_SECONDS`` was cut off mid-call and becomes ``unknown``, never resent.
Nothing is enqueued from a request: a stopped broker never breaks the write that raised the
alert, it only delays the e-mail until the next tick.

The e-mail names the kind of alert and the clinic and links to the alert; the patient is named
only behind the sign-in (the alert message itself carries no name either).
"""

import datetime
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from clinic import notifications
from clinic.models import AlertDelivery, DeliveryStatus, StaffAlert
from clinic.sql import Table, statement

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
CLAIM_BATCH = 100


def recipients_of(alert: StaffAlert):
    """Who an alert goes to: its named recipient, and every active member of its clinic with its
    role (either or both: a safety alert names the primary clinician and the supervisors); only
    people with an e-mail address get one."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    addressed = Q(pk__in=[])
    if alert.recipient_id:
        addressed |= Q(pk=alert.recipient_id)
    if alert.recipient_role:
        addressed |= Q(
            pk__in=users.filter(
                groups__name=alert.recipient_role, clinic_memberships__clinic_id=alert.clinic_id
            ).values("pk")
        )
    return users.filter(addressed)


def plan(alert: StaffAlert) -> int:
    """One pending delivery per recipient (a second call adds nothing)."""
    rows = [AlertDelivery(alert=alert, recipient=user) for user in recipients_of(alert)]
    return len(AlertDelivery.objects.bulk_create(rows, ignore_conflicts=True))


def render(alert: StaffAlert) -> tuple[str, str]:
    link = settings.PUBLIC_BASE_URL.rstrip("/") + reverse(
        "admin:clinic_staffalert_change", args=[alert.pk]
    )
    subject = f"Continuum: a new alert at {alert.clinic.name}"
    text = (
        f"{alert.get_kind_display()} at {alert.clinic.name}.\n\n"
        f"Open it in Continuum to act on it: {link}\n"
    )
    return subject, text


_CLAIM_SQL = statement(
    """
UPDATE {d}
SET {d.status} = 'sending', {d.claimed_at} = %(now)s, {d.attempts} = {d.attempts} + 1
WHERE {d.id} IN (
    SELECT {d.id} FROM {d}
    WHERE {d.status} = 'pending' AND {d.scheduled_for} <= %(now)s
    ORDER BY {d.scheduled_for}
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING {d.id}
""",
    d=Table(AlertDelivery),
)


def _claim_due(now: datetime.datetime, limit: int) -> list[int]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, {"now": now, "limit": limit})
        return [row[0] for row in cursor.fetchall()]


def mark_cut_off() -> int:
    deadline = timezone.now() - datetime.timedelta(seconds=settings.REMINDER_SEND_TIMEOUT_SECONDS)
    return AlertDelivery.objects.filter(
        status=DeliveryStatus.SENDING, claimed_at__lt=deadline
    ).update(status=DeliveryStatus.UNKNOWN, last_error="Cut off while sending; not resent.")


def _send_one(delivery: AlertDelivery) -> str:
    alert = delivery.alert
    if alert.acknowledged_at is not None:
        status, fields = DeliveryStatus.CANCELLED, {"last_error": "Acknowledged before sending."}
    else:
        subject, text = render(alert)
        try:
            result = notifications.send_email(
                to=delivery.recipient.email, subject=subject, text=text
            )
        except notifications.ChannelError as error:
            retry = error.retryable and delivery.attempts < MAX_ATTEMPTS
            status = DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED
            fields = {"last_error": str(error.detail)[:300]}
            if retry:
                minutes = min(2 ** (delivery.attempts - 1), 30)
                fields["scheduled_for"] = timezone.now() + datetime.timedelta(minutes=minutes)
            logger.warning("Alert delivery %s: %s (%s)", delivery.pk, status, error.detail)
        else:
            status = DeliveryStatus.SENT
            fields = {
                "sent_at": timezone.now(),
                "provider_message_id": result.provider_message_id,
                "last_error": "",
            }
    # Only a row still ours is updated: one marked unknown meanwhile stays unknown.
    AlertDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
        status=status, **fields
    )
    return status


def deliver_due(*, limit: int = CLAIM_BATCH) -> dict[str, int]:
    """Mark cut-off sends, then claim and send up to ``limit`` due rows; returns the count of
    each outcome. One row is claimed at a time: a worker dying mid-tick leaves only the row it
    was sending in ``sending`` (a batch claimed at once would turn the rows it never tried into
    ``unknown`` too, as it would rows still waiting when the tick outlasts the send timeout)."""
    mark_cut_off()
    outcomes: dict[str, int] = {}
    for _ in range(limit):
        ids = _claim_due(timezone.now(), 1)
        if not ids:
            break
        delivery = AlertDelivery.objects.select_related("alert__clinic", "recipient").get(pk=ids[0])
        status = _send_one(delivery)
        outcomes[status] = outcomes.get(status, 0) + 1
    return outcomes
