"""Following up open inquiries (issue 28, item 5): the alert about an inquiry past its next
contact date, and the neutral message asking a caller to call the clinic back.

An overdue inquiry (``selectors.inquiry_overdue``, by its clinic's today) raises one
``inquiry_overdue`` alert to the clinic's admissions staff per overdue next-contact date: the
alert names the inquiry and that date (``alert_raise``'s ``occasion``), so a beat that runs
again finds it, two beats at once settle on one through the alerts' unique constraint, and a
new next contact date that passes in turn alerts again.

A callback request is an outbox row (``programs.services.outbox``), queued under the inquiry's
lock and sent by beat exactly once, by e-mail or SMS to the address the caller gave. Its text
names only the clinic's public name and asks for a call (42 CFR Part 2: a message to a caller
must not reveal that anyone seeks treatment): never the program, a level of care, the person or
the call.
"""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.errors import Conflict
from clinic.models import AlertKind, AuditAction, Role, StaffAlert
from clinic.selectors import user_has_role
from clinic.services import alert_object_id, alert_raise, audit_record
from patients.models import ReminderChannel
from programs import selectors
from programs.locks import inquiry_lock
from programs.models import (
    CallbackMethod,
    CallbackRequest,
    CallerRelation,
    Inquiry,
    NoticeStatus,
)
from programs.services import outbox
from programs.services.inquiries import INQUIRY_WRITE_ROLES, inquiry_require_open

# What admissions read in the alert: the kind and nothing from the call (no name, no program).
OVERDUE_ALERT_MESSAGE = (
    "An open inquiry is past its next contact date: the admissions board lists it."
)
# The occasion of an overdue inquiry with no next contact date (overdue from the day after it
# came in): a next contact date set later is an occasion of its own.
NO_NEXT_CONTACT = "received"

# A callback request goes by e-mail or SMS (the model allows no other channel).
CALLBACK_CHANNELS = (CallbackMethod.EMAIL, CallbackMethod.SMS)
# Rows the caller still waits for: a second request meanwhile would send twice.
CALLBACK_WAITING = (NoticeStatus.PENDING, NoticeStatus.SENDING)


# The overdue alert -------------------------------------------------------------------------------


def overdue_occasion(inquiry: Inquiry) -> str:
    """The next contact date an overdue inquiry is alerted for."""
    if inquiry.next_contact_on is None:
        return NO_NEXT_CONTACT
    return inquiry.next_contact_on.isoformat()


def inquiries_overdue_alert(*, now: datetime.datetime | None = None) -> int:
    """Raise the ``inquiry_overdue`` alert of every overdue open inquiry that has none for its
    current next contact date; returns how many were raised by this pass (or, in a race, by a
    concurrent one). Safe to run as often as beat likes, and twice at once."""
    now = now or timezone.now()
    overdue = list(
        Inquiry.objects.filter(selectors.inquiry_overdue(now))
        .only("pk", "clinic_id", "patient_id", "next_contact_on")
        .order_by("pk")
    )
    if not overdue:
        return 0
    # One query skips what earlier passes raised; alert_raise settles a race with a concurrent
    # pass through the unique constraint (kind, object type, object id).
    keys = {inquiry.pk: alert_object_id(inquiry, overdue_occasion(inquiry)) for inquiry in overdue}
    raised = set(
        StaffAlert.objects.filter(
            kind=AlertKind.INQUIRY_OVERDUE,
            object_type=Inquiry._meta.label_lower,
            object_id__in=keys.values(),
        ).values_list("object_id", flat=True)
    )
    count = 0
    for inquiry in overdue:
        if keys[inquiry.pk] in raised:
            continue
        # The alert and its deliveries commit together, or neither does.
        with transaction.atomic():
            alert_raise(
                clinic_id=inquiry.clinic_id,
                kind=AlertKind.INQUIRY_OVERDUE,
                subject=inquiry,
                occasion=overdue_occasion(inquiry),
                message=OVERDUE_ALERT_MESSAGE,
                recipient_role=Role.ADMISSIONS,
                patient_id=inquiry.patient_id,
                now=now,
            )
        count += 1
    return count


# Callback requests -------------------------------------------------------------------------------


def callback_text(public_name: str) -> tuple[str, str]:
    """``(subject, text)`` of a callback request: the clinic's public name asks for a call, and
    nothing else (the waitlist offer's notice says the same, for the same reason)."""
    return outbox.call_us_text(public_name)


def callback_address(inquiry: Inquiry, channel: str) -> str:
    """Where the caller asked to be reached: the caller's number or e-mail address, or, when the
    person called for themself, theirs. "" when there is none for ``channel``."""
    own = inquiry.caller_relation == CallerRelation.SELF
    if channel == CallbackMethod.EMAIL:
        return inquiry.caller_email or (inquiry.email if own else "")
    return inquiry.caller_phone or (inquiry.phone if own else "")


@transaction.atomic
def callback_request(
    *,
    actor,
    inquiry: Inquiry,
    channel: str | None = None,
    now: datetime.datetime | None = None,
) -> CallbackRequest:
    """Queue a message asking the caller to call the clinic back, by ``channel`` (default: the
    inquiry's callback method; a caller who asked for a phone call gets a text message on that
    phone). The inquiry must be open (409 ``invalid_state``), the caller must have agreed to be
    called back (409 ``no_callback_consent``) and have given an address for the channel (409
    ``no_callback_address``); a request still waiting to go out is not doubled (409
    ``callback_pending``). Beat sends it (``callback_requests_send``)."""
    if not (actor.is_superuser or user_has_role(actor, *INQUIRY_WRITE_ROLES)):
        raise PermissionDenied("Only admissions ask callers to call back.")
    now = now or timezone.now()
    if channel is not None and channel not in CALLBACK_CHANNELS:
        raise ValidationError(
            {"channel": ["A callback request is sent by e-mail or SMS: choose email or sms."]}
        )
    inquiry = inquiry_lock(inquiry.pk)
    inquiry_require_open(inquiry, "a callback request")
    if not inquiry.callback_consent:
        raise Conflict(
            "The caller has not agreed to be called back: record their consent on the inquiry "
            "first.",
            code="no_callback_consent",
        )
    if channel is None:
        channel = (
            CallbackMethod.EMAIL
            if inquiry.callback_method == CallbackMethod.EMAIL
            else CallbackMethod.SMS
        )
    to = callback_address(inquiry, channel)
    if not to:
        kind = "e-mail address" if channel == CallbackMethod.EMAIL else "phone number"
        raise Conflict(
            f"The inquiry has no {kind} of the caller to send the request to.",
            code="no_callback_address",
        )
    if inquiry.callback_requests.filter(status__in=CALLBACK_WAITING).exists():
        raise Conflict(
            "A callback request to this caller is still waiting to go out.",
            code="callback_pending",
        )
    callback = CallbackRequest.objects.create(
        inquiry=inquiry,
        channel=channel,
        to=to,
        due_at=now,
        requested_by=actor,
        requested_at=now,
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=callback,
        clinic=inquiry.clinic_id,
        patient_id=inquiry.patient_id,
    )
    return callback


def _callback_outcome(callback: CallbackRequest, now: datetime.datetime) -> dict:
    """Send one claimed callback request; the fields to record."""
    inquiry = callback.inquiry
    if not inquiry.is_open:
        return CALLBACKS.fields(NoticeStatus.SKIPPED, last_error="The inquiry closed first.")
    # Consent is re-read now: a caller who withdrew it is not messaged.
    if not inquiry.callback_consent:
        return CALLBACKS.fields(
            NoticeStatus.SKIPPED, last_error="The caller withdrew their consent to a callback."
        )
    subject, text = callback_text(inquiry.clinic.public_name)
    return outbox.channel_send(
        CALLBACKS,
        callback,
        clinic=inquiry.clinic,
        channel=ReminderChannel(callback.channel),
        to=callback.to,
        subject=subject,
        text=text,
        now=now,
    )


CALLBACKS = outbox.Outbox(
    model=CallbackRequest,
    status_field="status",
    due_field="due_at",
    related=("inquiry__clinic",),
    outcome=_callback_outcome,
    label="Callback request",
)


def callback_requests_send(*, limit: int = outbox.CLAIM_BATCH) -> dict[str, int]:
    """Claim and send up to ``limit`` due callback requests (beat); the count of each
    outcome."""
    return outbox.deliver_due(CALLBACKS, limit=limit)
