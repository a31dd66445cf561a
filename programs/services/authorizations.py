"""Utilization review: payers, a patient's coverage, the payer's authorizations of an
enrollment's care and the reviews that extend or deny them (issue 23). One atomic function per
use case; each locks the row it changes, audits with the patient and the clinic, and refuses a
bad transition with a 409 (a wrong state) or a 400 (a wrong value).

The database holds what it can (programs migration 0016: dates ordered, one primary coverage at
a time, no two authorizations of one payer in force on overlapping dates, the unit fitting the
level, the payer and patient of one clinic); these services check the rest under the lock.
"""

import datetime
from collections.abc import Collection

from django.core.exceptions import ValidationError
from django.db import transaction

from clinic.errors import Conflict
from clinic.models import AuditAction, Clinic, Role
from clinic.services import audit_record
from clinic.versions import refresh_version, require_version
from patients.models import Level, Patient
from programs.locks import authorization_lock
from programs.models import (
    DAY_LEVELS,
    Authorization,
    AuthorizationStatus,
    AuthorizationUnit,
    ConcurrentReview,
    Coverage,
    CoveragePriority,
    Enrollment,
    EnrollmentStatus,
    Payer,
    PayerKind,
    ReviewKind,
    ReviewOutcome,
    SubscriberRelation,
)

# Who writes coverage, authorizations and reviews; every staff role reads them.
UTILIZATION_WRITE_ROLES = (Role.ADMISSIONS, Role.UTILIZATION_REVIEW)
# Who works the UR queue (ur/queue/ and its admin board): the reviewers and their supervisors.
UR_QUEUE_ROLES = (Role.UTILIZATION_REVIEW, Role.SUPERVISOR)

COVERAGE_EDITABLE_FIELDS = (
    "member_id",
    "group_number",
    "subscriber_relation",
    "priority",
    "start_date",
    "end_date",
)

# The payer's answer to a request.
DECISIONS = (
    AuthorizationStatus.APPROVED,
    AuthorizationStatus.PARTIALLY_APPROVED,
    AuthorizationStatus.DENIED,
)
# Only an appeal (or the medical director's call with the payer's) turns a denial around.
APPEAL_KINDS = (ReviewKind.APPEAL, ReviewKind.EXPEDITED_APPEAL, ReviewKind.PEER_TO_PEER)


def _full_clean(obj, exclude: tuple[str, ...] = ()) -> None:
    obj.full_clean(exclude=list(exclude), validate_constraints=False)


def _lock_coverage(coverage: Coverage) -> Coverage:
    return (
        Coverage.objects.select_for_update(of=("self",))
        .select_related("payer", "patient")
        .get(pk=coverage.pk)
    )


def _lock_authorization(authorization: Authorization) -> Authorization:
    # Every change to an authorization and its reviews takes this lock first, so a decision
    # and a review outcome racing each other apply one after the other to the current units.
    return authorization_lock(authorization.pk)


# Payers -------------------------------------------------------------------------------------------


@transaction.atomic
def payer_create(*, actor, clinic: Clinic, name: str, kind: str) -> Payer:
    payer = Payer(clinic=clinic, name=name.strip(), kind=kind)
    _full_clean(payer, exclude=("clinic",))
    payer.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=payer, clinic=clinic.pk)
    return payer


@transaction.atomic
def payer_update(*, actor, payer: Payer, name: str, kind: str) -> Payer:
    """Rename a payer or correct its kind; its clinic stays. A payer becoming self-pay keeps the
    authorizations already on file (they were asked for while it was not)."""
    payer = Payer.objects.select_for_update().get(pk=payer.pk)
    changed = {"name": name.strip(), "kind": kind}
    fields = [field for field, value in changed.items() if getattr(payer, field) != value]
    if not fields:
        return payer
    for field in fields:
        setattr(payer, field, changed[field])
    # With the constraints: a name taken in the clinic is a field error, not an IntegrityError.
    payer.full_clean()
    payer.save(update_fields=fields)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=payer, clinic=payer.clinic_id)
    return payer


# Coverage -----------------------------------------------------------------------------------------


@transaction.atomic
def coverage_create(
    *,
    actor,
    patient: Patient,
    payer: Payer,
    start_date: datetime.date,
    end_date: datetime.date | None = None,
    member_id: str = "",
    group_number: str = "",
    subscriber_relation: str = SubscriberRelation.SELF,
    priority: str = CoveragePriority.PRIMARY,
) -> Coverage:
    """Record that ``payer`` covers ``patient`` from ``start_date`` (through ``end_date``)."""
    if payer.clinic_id != patient.clinic_id:
        raise ValidationError({"payer": ["This payer is not one of the patient's clinic."]})
    coverage = Coverage(
        patient=patient,
        payer=payer,
        clinic_id=patient.clinic_id,
        member_id=member_id.strip(),
        group_number=group_number.strip(),
        subscriber_relation=subscriber_relation,
        priority=priority,
        start_date=start_date,
        end_date=end_date,
        created_by=actor,
    )
    _full_clean(coverage, exclude=("patient", "payer", "clinic", "created_by"))
    _check_dates(start_date, end_date)
    coverage.save()
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=coverage,
        clinic=patient.clinic_id,
        patient_id=patient.pk,
    )
    return coverage


def _check_dates(start: datetime.date, end: datetime.date | None) -> None:
    if end is not None and end < start:
        raise ValidationError({"end_date": ["The end cannot be before the start."]})


@transaction.atomic
def coverage_update(
    *, actor, coverage: Coverage, expected_versions: Collection[int] | None = None, **changes
) -> Coverage:
    """Change a coverage's member details, priority or dates. Its payer and patient stay: a new
    payer is a new coverage."""
    unknown = set(changes) - set(COVERAGE_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
    coverage = _lock_coverage(coverage)
    require_version(coverage, expected_versions, patient_id=coverage.patient_id)
    for name in ("member_id", "group_number"):
        if isinstance(changes.get(name), str):
            changes[name] = changes[name].strip()
    changed = [name for name, value in changes.items() if getattr(coverage, name) != value]
    if not changed:
        audit_record(
            actor=actor,
            action=AuditAction.READ,
            obj=coverage,
            clinic=coverage.clinic_id,
            patient_id=coverage.patient_id,
        )
        return coverage
    for name in changed:
        setattr(coverage, name, changes[name])
    _full_clean(coverage, exclude=("patient", "payer", "clinic", "created_by"))
    _check_dates(coverage.start_date, coverage.end_date)
    coverage.save(update_fields=[*changed, "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=coverage,
        clinic=coverage.clinic_id,
        patient_id=coverage.patient_id,
    )
    return refresh_version(coverage)


def coverage_end(
    *,
    actor,
    coverage: Coverage,
    end_date: datetime.date,
    expected_versions: Collection[int] | None = None,
) -> Coverage:
    """The coverage ends on ``end_date`` (its last covered day)."""
    return coverage_update(
        actor=actor, coverage=coverage, expected_versions=expected_versions, end_date=end_date
    )


# Authorizations -----------------------------------------------------------------------------------


def _unit_fits_level(level: str, unit: str) -> bool:
    return (unit == AuthorizationUnit.DAYS) == (level in DAY_LEVELS)


@transaction.atomic
def authorization_request(
    *,
    actor,
    enrollment: Enrollment,
    coverage: Coverage,
    authorized_level: str,
    units_requested: int,
    start_date: datetime.date,
    end_date: datetime.date,
    unit: str | None = None,
    number: str = "",
    next_review_on: datetime.date | None = None,
    reviewer_name: str = "",
    reviewer_phone: str = "",
    notes: str = "",
) -> Authorization:
    """Ask ``coverage``'s payer to authorize ``units_requested`` of ``authorized_level`` care
    for ``enrollment`` from ``start_date`` through ``end_date``. The unit defaults to the
    level's (days for residential and PHP, sessions otherwise)."""
    # The enrollment's lock orders requests of one stay, so two requests cannot both pass the
    # checks below against a coverage the other is about to use.
    enrollment = (
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("program")
        .get(pk=enrollment.pk)
    )
    coverage = Coverage.objects.select_related("payer").get(pk=coverage.pk)
    if enrollment.status == EnrollmentStatus.CANCELLED:
        raise Conflict("This enrollment was cancelled.", code="invalid_state")
    if coverage.patient_id != enrollment.patient_id:
        raise ValidationError({"coverage": ["This coverage is not the enrolled patient's."]})
    if coverage.payer.kind == PayerKind.SELF_PAY:
        raise Conflict(
            "Self-pay care needs no authorization.", code="self_pay_needs_no_authorization"
        )
    if authorized_level not in Level.values:
        raise ValidationError({"authorized_level": [f"Choose one of {', '.join(Level.values)}."]})
    if unit is None:
        unit = (
            AuthorizationUnit.DAYS if authorized_level in DAY_LEVELS else AuthorizationUnit.SESSIONS
        )
    if not _unit_fits_level(authorized_level, unit):
        raise ValidationError(
            {
                "unit": [
                    "Residential and PHP are authorized in days, IOP and outpatient in "
                    "sessions or units."
                ]
            }
        )
    if end_date < start_date:
        raise ValidationError({"end_date": ["The end cannot be before the start."]})
    if start_date < coverage.start_date or (
        coverage.end_date is not None and end_date > coverage.end_date
    ):
        raise ValidationError({"coverage": ["The coverage does not span these dates."]})
    authorization = Authorization(
        enrollment=enrollment,
        coverage=coverage,
        patient_id=enrollment.patient_id,
        payer_id=coverage.payer_id,
        number=number.strip(),
        authorized_level=authorized_level,
        unit=unit,
        units_requested=units_requested,
        start_date=start_date,
        end_date=end_date,
        next_review_on=next_review_on,
        reviewer_name=reviewer_name.strip(),
        reviewer_phone=reviewer_phone.strip(),
        notes=notes.strip(),
        created_by=actor,
    )
    _full_clean(authorization, exclude=("enrollment", "coverage", "patient", "payer", "created_by"))
    if units_requested < 1:
        raise ValidationError({"units_requested": ["Request at least one unit."]})
    authorization.save()
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=authorization,
        clinic=enrollment.program.clinic_id,
        patient_id=enrollment.patient_id,
    )
    return authorization


@transaction.atomic
def authorization_decide(
    *,
    actor,
    authorization: Authorization,
    decision: str,
    units_approved: int | None = None,
    approved_exceeds_request: bool = False,
    number: str | None = None,
    next_review_on: datetime.date | None = None,
    expected_versions: Collection[int] | None = None,
) -> Authorization:
    """Record the payer's answer to a request: ``approved`` (all units, by default, or more when
    ``approved_exceeds_request`` says so), ``partially_approved`` (fewer units) or ``denied``."""
    authorization = _lock_authorization(authorization)
    require_version(authorization, expected_versions, patient_id=authorization.patient_id)
    if authorization.status != AuthorizationStatus.REQUESTED:
        raise Conflict(
            f"Only a requested authorization is decided; this one is {authorization.status}.",
            code="invalid_state",
        )
    requested = authorization.units_requested
    if decision == AuthorizationStatus.APPROVED:
        units_approved = requested if units_approved is None else units_approved
        if units_approved < requested:
            raise ValidationError(
                {"units_approved": ["Fewer units than requested is a partial approval."]}
            )
        if units_approved > requested and not approved_exceeds_request:
            raise ValidationError(
                {
                    "units_approved": [
                        "More units than requested: state that the payer approved more."
                    ]
                }
            )
    elif decision == AuthorizationStatus.PARTIALLY_APPROVED:
        if units_approved is None or not 0 < units_approved < requested:
            raise ValidationError(
                {"units_approved": [f"A partial approval is between 1 and {requested - 1} units."]}
            )
    elif decision == AuthorizationStatus.DENIED:
        if units_approved:
            raise ValidationError({"units_approved": ["A denial approves no units."]})
        units_approved = None
    else:
        raise ValidationError({"decision": [f"Choose one of {', '.join(DECISIONS)}."]})
    authorization.status = decision
    authorization.units_approved = units_approved
    authorization.approved_exceeds_request = bool(
        units_approved is not None and units_approved > requested
    )
    fields = ["status", "units_approved", "approved_exceeds_request", "updated_at"]
    if number is not None:
        authorization.number = number.strip()
        fields.append("number")
    if next_review_on is not None:
        authorization.next_review_on = next_review_on
        fields.append("next_review_on")
    authorization.save(update_fields=fields)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=authorization,
        clinic=authorization.enrollment.program.clinic_id,
        patient_id=authorization.patient_id,
    )
    return refresh_version(authorization)


# Reviews ------------------------------------------------------------------------------------------


@transaction.atomic
def review_schedule(
    *,
    actor,
    authorization: Authorization,
    kind: str,
    scheduled_on: datetime.date,
    reviewer: str = "",
    notes: str = "",
) -> ConcurrentReview:
    """Book a review of ``authorization`` with the payer; the authorization's next review date
    becomes the earliest open review's."""
    authorization = _lock_authorization(authorization)
    if authorization.status == AuthorizationStatus.EXPIRED:
        raise Conflict("This authorization has expired.", code="invalid_state")
    if (
        kind in (ReviewKind.APPEAL, ReviewKind.EXPEDITED_APPEAL)
        and authorization.status != AuthorizationStatus.DENIED
    ):
        raise Conflict("Only a denial is appealed.", code="invalid_state")
    review = ConcurrentReview(
        authorization=authorization,
        kind=kind,
        scheduled_on=scheduled_on,
        reviewer=reviewer.strip(),
        notes=notes.strip(),
        created_by=actor,
    )
    _full_clean(review, exclude=("authorization", "created_by", "recorded_by"))
    review.save()
    if authorization.next_review_on is None or scheduled_on < authorization.next_review_on:
        authorization.next_review_on = scheduled_on
        authorization.save(update_fields=["next_review_on", "updated_at"])
    clinic_id = authorization.enrollment.program.clinic_id
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=review,
        clinic=clinic_id,
        patient_id=authorization.patient_id,
    )
    return review


@transaction.atomic
def review_record(
    *,
    actor,
    review: ConcurrentReview,
    outcome: str,
    done_on: datetime.date,
    units_added: int | None = None,
    end_date: datetime.date | None = None,
    next_review_on: datetime.date | None = None,
    payer_recommended_level: str = "",
    reviewer: str | None = None,
    notes: str | None = None,
) -> ConcurrentReview:
    """Record a review's outcome and apply it to its authorization in the same transaction:
    ``approved_more`` adds ``units_added`` (and moves the end to ``end_date`` when given),
    ``denied`` denies the authorization (the payer may recommend a lower level), and
    ``pending_information`` leaves it be. The authorization's next review date becomes
    ``next_review_on``, or when not given the earliest other review still booked (none when
    there is none)."""
    authorization = _lock_authorization(review.authorization)
    review = ConcurrentReview.objects.select_for_update().get(pk=review.pk)
    if review.done_on is not None:
        raise Conflict("This review's outcome is recorded already.", code="review_done")
    if outcome not in ReviewOutcome.values:
        raise ValidationError({"outcome": [f"Choose one of {', '.join(ReviewOutcome.values)}."]})
    if authorization.status == AuthorizationStatus.EXPIRED:
        raise Conflict("This authorization has expired.", code="invalid_state")
    if payer_recommended_level and outcome != ReviewOutcome.DENIED:
        raise ValidationError(
            {"payer_recommended_level": ["The payer recommends a level only with a denial."]}
        )
    if outcome == ReviewOutcome.APPROVED_MORE:
        _add_units(authorization, review, units_added, end_date)
    else:
        if units_added is not None:
            raise ValidationError({"units_added": ["Units are added only when approved."]})
        if end_date is not None:
            raise ValidationError({"end_date": ["The end moves only when units are approved."]})
        if outcome == ReviewOutcome.DENIED:
            authorization.status = AuthorizationStatus.DENIED
    if next_review_on is not None:
        authorization.next_review_on = next_review_on
    else:
        authorization.next_review_on = (
            authorization.reviews.filter(done_on__isnull=True)
            .exclude(pk=review.pk)
            .order_by("scheduled_on")
            .values_list("scheduled_on", flat=True)
            .first()
        )
    authorization.save(
        update_fields=[
            "status",
            "units_requested",
            "units_approved",
            "approved_exceeds_request",
            "end_date",
            "next_review_on",
            "updated_at",
        ]
    )
    review.outcome = outcome
    review.done_on = done_on
    review.units_added = units_added if outcome == ReviewOutcome.APPROVED_MORE else None
    review.next_review_on = next_review_on
    review.payer_recommended_level = payer_recommended_level
    review.recorded_by = actor
    if reviewer is not None:
        review.reviewer = reviewer.strip()
    if notes is not None:
        review.notes = notes.strip()
    _full_clean(review, exclude=("authorization", "created_by", "recorded_by"))
    review.save()
    clinic_id = authorization.enrollment.program.clinic_id
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=review,
        clinic=clinic_id,
        patient_id=authorization.patient_id,
    )
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=authorization,
        clinic=clinic_id,
        patient_id=authorization.patient_id,
    )
    return review


def _add_units(
    authorization: Authorization,
    review: ConcurrentReview,
    units_added: int | None,
    end_date: datetime.date | None,
) -> None:
    if not units_added or units_added < 1:
        raise ValidationError({"units_added": ["Approving more adds at least one unit."]})
    if authorization.status == AuthorizationStatus.DENIED and review.kind not in APPEAL_KINDS:
        raise Conflict(
            "A denial is turned around by an appeal or a peer-to-peer review.",
            code="invalid_state",
        )
    if end_date is not None:
        if end_date < authorization.end_date:
            raise ValidationError(
                {"end_date": ["Approving more cannot shorten the authorization."]}
            )
        authorization.end_date = end_date
    approved = (authorization.units_approved or 0) + units_added
    # A review asks for more units: the request grows with what the payer added.
    authorization.units_requested = max(authorization.units_requested, approved)
    authorization.units_approved = approved
    authorization.approved_exceeds_request = False
    authorization.status = (
        AuthorizationStatus.APPROVED
        if approved >= authorization.units_requested
        else AuthorizationStatus.PARTIALLY_APPROVED
    )
