"""The utilization-review beat (issue 23): authorizations move on to ``exhausted`` or
``expired`` as the clinic's days pass, and the UR queue's items raise their staff alerts.

The rules, each by the clinic's own date ("today", ``timezone(zone, now)::date``):

- **expired**: an authorization requested, approved or partially approved whose end date is
  before today. A request the payer never answered lapses too (it keeps no approved units).
  A denial stays a denial (an appeal may still turn it around) and an exhausted authorization
  stays exhausted (its units ran out before its dates did).
- **exhausted**: an approved or partially approved authorization not past its end whose units
  are all used as of today (``units_remaining = 0``, ``programs.selectors.authorization_use``:
  the days present through today, or the sessions attended through today). A review that
  approves more units makes it approved (or partially approved) again
  (``programs.services.authorizations.review_record``).

Each move takes the authorization's row lock and re-reads the rule under it, so two beats (or a
beat and a review outcome) never apply it twice, and writes an audit row with no actor (the
system).

Alerts (``clinic.services.alert_raise``, to the clinic's ``utilization_review`` role, e-mailed
through the alert outbox, which names only the kind and links to the alert): one per
authorization ending soon (``authorization_ending``), per authorization with few units left
(``authorization_units_low``), per review past its date (``review_overdue``) and per covered
enrollment without an authorization (``authorization_missing``), each raised once ever: the
alert's unique constraint on (kind, subject) decides, so concurrent beats cannot both raise
it. The messages name the level, the program and dates, never the patient.
"""

import datetime

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from clinic.models import AlertKind, AuditAction, Role, StaffAlert
from clinic.services import alert_raise, audit_record
from programs.locks import authorization_lock
from programs.models import (
    AUTHORIZED,
    Authorization,
    AuthorizationStatus,
    ConcurrentReview,
    Enrollment,
)
from programs.selectors import COVERING, _clinic_today, authorization_use, ur_queue_of_clinics


def _past_their_end(now: datetime.datetime) -> QuerySet[Authorization]:
    return (
        Authorization.objects.filter(status__in=COVERING)
        .annotate(settle_today=_clinic_today("enrollment__program__clinic__time_zone", now))
        .filter(end_date__lt=F("settle_today"))
    )


def _used_up(now: datetime.datetime) -> QuerySet[Authorization]:
    return authorization_use(Authorization.objects.filter(status__in=AUTHORIZED), now=now).filter(
        end_date__gte=F("use_today"), units_remaining=0
    )


def authorizations_settle(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Move authorizations past their end to ``expired`` and those used up to ``exhausted``
    (the module's rules). Idempotent. Returns how many moved to each."""
    now = now or timezone.now()
    moved = {}
    for status, due in (
        (AuthorizationStatus.EXPIRED, _past_their_end),
        (AuthorizationStatus.EXHAUSTED, _used_up),
    ):
        moved[status.value] = 0
        for pk in due(now).order_by("pk").values_list("pk", flat=True):
            with transaction.atomic():
                authorization = authorization_lock(pk)
                # Read again under the lock: a review outcome or another beat may have moved it.
                if not due(now).filter(pk=pk).exists():
                    continue
                authorization.status = status
                authorization.save(update_fields=["status", "updated_at"])
                audit_record(
                    actor=None,
                    action=AuditAction.UPDATE,
                    obj=authorization,
                    clinic=authorization.enrollment.program.clinic_id,
                    patient_id=authorization.patient_id,
                )
                moved[status.value] += 1
    return moved


# Alerts -------------------------------------------------------------------------------------------


def _level(level: str) -> str:
    return {"php": "PHP", "iop": "IOP"}.get(level, level)


def authorization_ending_message(authorization: Authorization) -> str:
    return (
        f"An authorization of {_level(authorization.authorized_level)} care in "
        f"{authorization.enrollment.program.name} ends on {authorization.end_date:%Y-%m-%d}."
    )


def authorization_units_low_message(authorization: Authorization) -> str:
    return (
        f"An authorization of {_level(authorization.authorized_level)} care in "
        f"{authorization.enrollment.program.name} has {authorization.units_remaining} of "
        f"{authorization.units_approved} {authorization.unit} left as of "
        f"{authorization.used_through:%Y-%m-%d} (it ends on {authorization.end_date:%Y-%m-%d})."
    )


def review_overdue_message(review: ConcurrentReview) -> str:
    authorization = review.authorization
    return (
        f"A {review.get_kind_display().lower()} review of an authorization of "
        f"{_level(authorization.authorized_level)} care in "
        f"{authorization.enrollment.program.name} was due on {review.scheduled_on:%Y-%m-%d} "
        f"and is not recorded."
    )


def authorization_missing_message(enrollment: Enrollment) -> str:
    return (
        f"A patient in {enrollment.program.name} ({_level(enrollment.level)} care, since "
        f"{enrollment.start_date:%Y-%m-%d}) is covered by a payer that needs authorization and "
        f"has none covering {enrollment.queue_today:%Y-%m-%d}."
    )


def _alerts_to_raise(queue: dict[str, list]) -> list[tuple[str, object, int, int, str]]:
    """(kind, subject, clinic id, patient id, message) of every item of the queue that alerts."""
    items = []
    for review in queue["reviews_past_due"]:
        enrollment = review.authorization.enrollment
        items.append(
            (
                AlertKind.REVIEW_OVERDUE,
                review,
                enrollment.program.clinic_id,
                enrollment.patient_id,
                review_overdue_message(review),
            )
        )
    for kind, section, message in (
        (AlertKind.AUTHORIZATION_ENDING, "authorizations_ending", authorization_ending_message),
        (
            AlertKind.AUTHORIZATION_UNITS_LOW,
            "authorizations_units_low",
            authorization_units_low_message,
        ),
    ):
        for authorization in queue[section]:
            items.append(
                (
                    kind,
                    authorization,
                    authorization.enrollment.program.clinic_id,
                    authorization.patient_id,
                    message(authorization),
                )
            )
    for enrollment in queue["enrollments_without_authorization"]:
        items.append(
            (
                AlertKind.AUTHORIZATION_MISSING,
                enrollment,
                enrollment.program.clinic_id,
                enrollment.patient_id,
                authorization_missing_message(enrollment),
            )
        )
    return items


def ur_alerts_raise(*, now: datetime.datetime | None = None) -> list[StaffAlert]:
    """Raise the alert of every item of every clinic's UR queue that has none yet (once per
    subject and kind, ever). Returns the alerts raised."""
    now = now or timezone.now()
    items = _alerts_to_raise(ur_queue_of_clinics(None, now=now))
    # One query skips what earlier beats raised; alert_raise settles any race with a concurrent
    # beat through the unique constraint.
    raised = set(
        StaffAlert.objects.filter(
            kind__in={kind for kind, *_ in items},
            object_id__in={str(subject.pk) for _, subject, *_ in items},
        ).values_list("kind", "object_type", "object_id")
    )
    alerts = []
    for kind, subject, clinic_id, patient_id, message in items:
        if (kind.value, subject._meta.label_lower, str(subject.pk)) in raised:
            continue
        # The alert and its deliveries commit together, or neither does.
        with transaction.atomic():
            alerts.append(
                alert_raise(
                    clinic_id=clinic_id,
                    kind=kind,
                    subject=subject,
                    message=message[:300],
                    recipient_role=Role.UTILIZATION_REVIEW,
                    patient_id=patient_id,
                    now=now,
                )
            )
    return alerts


def utilization_review_scan(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """The beat's pass: settle the authorizations, then alert on the queue they leave."""
    now = now or timezone.now()
    moved = authorizations_settle(now=now)
    return {**moved, "alerts": len(ur_alerts_raise(now=now))}
