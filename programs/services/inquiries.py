"""The admissions pipeline's inquiries (issue 28): taking the call (with the duplicate check),
editing it, the pre-admission screening with its provisional level and withdrawal alert, the
verification of benefits, the contacts with the caller, and the one home of an inquiry's status
moves (``inquiry_status_move``) that every slice of the pipeline calls.

An inquiry is Part 2 data from the first call: every read and write is audited with the
inquiry's clinic and, once linked, its patient. Each service locks the inquiry
(``programs.locks.inquiry_lock``) before it reads the state it acts on; the database holds the
state machine itself (a trigger, migration 0018), which the services turn into 409s naming the
current status.
"""

import datetime
from collections.abc import Collection
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from phonenumber_field.phonenumber import to_python as phone_to_python

from clinic.errors import Conflict, constraint_name
from clinic.models import AlertKind, AuditAction, Clinic, Role
from clinic.services import alert_raise, audit_record
from clinic.versions import refresh_version, require_version
from patients.models import DIMENSIONS, Level
from patients.recommendation import AssessmentFacts, recommend, severity_from_criteria
from programs import selectors
from programs.locks import clinic_intake_lock, inquiry_lock
from programs.models import (
    OPEN_INQUIRY,
    BenefitsOutcome,
    BenefitsVerification,
    CallbackMethod,
    CallerRelation,
    ContactDirection,
    ContactOutcome,
    Inquiry,
    InquiryContact,
    InquiryScreening,
    InquiryStatus,
    InquiryStatusChange,
    NotAdmittedReason,
    Payer,
    ReferralSource,
    SubscriberRelation,
    WithdrawalRiskFlag,
)

# Who does what with an inquiry (every staff role of its clinic reads it: STAFF_ROLES).
INQUIRY_WRITE_ROLES = (Role.ADMISSIONS,)
SCREENING_ROLES = (Role.ADMISSIONS, Role.CLINICIAN, Role.SUPERVISOR)
VERIFICATION_ROLES = (Role.ADMISSIONS, Role.UTILIZATION_REVIEW)
ADMISSIONS_REPORT_ROLES = (Role.ADMISSIONS, Role.SUPERVISOR)

# The referral sources a clinic starts with (migration 0018 gave the clinics of its day the same).
DEFAULT_REFERRAL_SOURCES = [
    ("Hospital", "hospital"),
    ("Court", "court"),
    ("Employer", "employer"),
    ("Family", "family"),
    ("Self", "self"),
    ("Another program", "another_program"),
    ("Online", "online"),
]

INQUIRY_EDITABLE_FIELDS = (
    "first_name",
    "last_name",
    "date_of_birth",
    "phone",
    "email",
    "caller_relation",
    "caller_name",
    "caller_phone",
    "caller_email",
    "referral_source",
    "referring_organization",
    "referring_contact",
    "substances",
    "urgency",
    "callback_consent",
    "callback_method",
    "program",
    "next_contact_on",
    "patient",
    "notes",
)
_STRIPPED = {
    "first_name",
    "last_name",
    "email",
    "caller_name",
    "caller_email",
    "referring_organization",
    "referring_contact",
}

# What a clinician reads in the alert: no name, no program, nothing from the call itself.
WITHDRAWAL_ALERT_MESSAGE = (
    "A pre-admission screening flags withdrawal risk that needs medical review today."
)


def _e164(field: str, value: str) -> str:
    """A phone number as typed, stored in E.164 (as patients' are), so the duplicate check
    compares numbers, not spellings; 400 naming ``field`` when it is not a number."""
    value = (value or "").strip()
    if not value:
        return ""
    number = phone_to_python(value)
    if number is None or isinstance(number, str) or not number.is_valid():
        raise ValidationError({field: ["Enter a valid phone number."]})
    return number.as_e164


def inquiry_require_open(inquiry: Inquiry, doing: str) -> None:
    """Refuse ``doing`` on an admitted or not admitted inquiry (409 ``invalid_state``): every
    step of the pipeline is for open inquiries only."""
    if inquiry.status not in OPEN_INQUIRY:
        raise Conflict(
            f"This inquiry is {inquiry.get_status_display().lower()}: {doing} is for open "
            "inquiries only.",
            code="invalid_state",
        )


def _check_links(inquiry: Inquiry, *, new: bool = False) -> None:
    """The referral source, program and patient are the inquiry's clinic's; a new inquiry takes
    an active source (an inquiry already on file keeps one since retired)."""
    errors = {}
    source = inquiry.referral_source
    if source.clinic_id != inquiry.clinic_id:
        errors["referral_source"] = ["This referral source is not one of the clinic's."]
    elif new and not source.is_active:
        errors["referral_source"] = ["This referral source is no longer in use."]
    if inquiry.program_id is not None and inquiry.program.clinic_id != inquiry.clinic_id:
        errors["program"] = ["This program is not one of the clinic's."]
    if inquiry.patient_id is not None and inquiry.patient.clinic_id != inquiry.clinic_id:
        errors["patient"] = ["This patient is not registered at the inquiry's clinic."]
    if errors:
        raise ValidationError(errors)


def _validate(inquiry: Inquiry, *, today: datetime.date) -> None:
    errors: dict[str, list[str]] = {}
    try:
        inquiry.full_clean(
            exclude=["clinic", "referral_source", "program", "patient", "enrollment", "created_by"],
            validate_constraints=False,
        )
    except ValidationError as error:
        errors.update(error.message_dict)
    if inquiry.date_of_birth is not None and inquiry.date_of_birth > today:
        errors.setdefault("date_of_birth", []).append("The date of birth cannot be in the future.")
    if inquiry.callback_method and not inquiry.callback_consent:
        errors.setdefault("callback_method", []).append(
            "A callback method needs the caller's consent to be called back."
        )
    if errors:
        raise ValidationError(errors)


def _normalize(values: dict) -> dict:
    for name in _STRIPPED & values.keys():
        values[name] = (values[name] or "").strip()
    for name in ("phone", "caller_phone"):
        if name in values:
            values[name] = _e164(name, values[name])
    return values


# Status moves -------------------------------------------------------------------------------------


def inquiry_status_move(
    inquiry: Inquiry,
    *,
    to_status: str,
    actor,
    now: datetime.datetime,
    reason: str = "",
    not_admitted_reason: str = "",
) -> InquiryStatusChange:
    """Move ``inquiry`` (locked by the caller with ``inquiry_lock``) to ``to_status``, append
    the history row and audit it: the one home of a status move. The inquiry's ``patient`` and
    ``enrollment`` are saved as the caller set them (an admission names both);
    ``not_admitted_reason`` is required for ``not_admitted`` and refused otherwise. A move
    the state machine does not allow is a 409 ``invalid_state`` naming the current status.
    ``actor`` None: the system (a hold that lapsed)."""
    from_status = inquiry.status
    if to_status not in InquiryStatus.values:
        raise ValidationError({"status": [f"Choose one of {', '.join(InquiryStatus.values)}."]})
    if to_status == InquiryStatus.NOT_ADMITTED:
        if not_admitted_reason not in NotAdmittedReason.values:
            raise ValidationError(
                {"reason": [f"Choose one of {', '.join(NotAdmittedReason.values)}."]}
            )
    elif not_admitted_reason:
        raise ValidationError({"reason": ["A reason is given only when not admitted."]})
    refusal = Conflict(
        f"This inquiry is {InquiryStatus(from_status).label.lower()}; it cannot become "
        f"{InquiryStatus(to_status).label.lower()}.",
        code="invalid_state",
    )
    if to_status == from_status:
        raise refusal
    inquiry.status = to_status
    inquiry.not_admitted_reason = not_admitted_reason
    try:
        # The trigger of migration 0018 is the state machine: a savepoint, so its refusal is
        # answered as a conflict and the caller's transaction goes on to roll back cleanly.
        with transaction.atomic():
            inquiry.save(
                update_fields=[
                    "status",
                    "not_admitted_reason",
                    "patient",
                    "enrollment",
                    "updated_at",
                ]
            )
    except IntegrityError as error:
        inquiry.status = from_status
        if constraint_name(error) == "inquiry_state_machine":
            raise refusal from error
        raise
    change = InquiryStatusChange.objects.create(
        inquiry=inquiry,
        from_status=from_status,
        to_status=to_status,
        changed_at=now,
        changed_by=actor,
        reason=(reason or "").strip(),
    )
    refresh_version(inquiry)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=inquiry,
        clinic=inquiry.clinic_id,
        patient_id=inquiry.patient_id,
    )
    return change


# Inquiries ----------------------------------------------------------------------------------------


@transaction.atomic
def inquiry_create(
    *,
    actor,
    clinic: Clinic,
    referral_source: ReferralSource,
    first_name: str,
    last_name: str,
    received_at: datetime.datetime | None = None,
    allow_duplicate: bool = False,
    **fields,
) -> Inquiry:
    """Take a call or referral about someone seeking care: a new inquiry with its first status
    row. A person who looks like a registered patient or an open inquiry of the clinic (same
    names and birth date, or the same phone) is a 409 ``possible_duplicate`` with their ids,
    unless ``allow_duplicate``."""
    unknown = set(fields) - set(INQUIRY_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
    now = timezone.now()
    received_at = received_at or now
    if received_at > now:
        raise ValidationError({"received_at": ["An inquiry cannot be received in the future."]})
    values = _normalize({"first_name": first_name, "last_name": last_name, **fields})
    inquiry = Inquiry(
        clinic=clinic,
        referral_source=referral_source,
        received_at=received_at,
        created_by=actor,
        **values,
    )
    _validate(inquiry, today=clinic.today(now))
    _check_links(inquiry, new=True)
    clinic_intake_lock(clinic.pk)
    if not allow_duplicate:
        duplicates = selectors.inquiry_duplicates(
            clinic=clinic,
            first_name=inquiry.first_name,
            last_name=inquiry.last_name,
            date_of_birth=inquiry.date_of_birth,
            phones=_phones_of(inquiry),
        )
        if duplicates["patients"] or duplicates["inquiries"]:
            raise Conflict(
                "This person may already be a patient or an open inquiry of this clinic (the "
                "same names and date of birth, or the same phone). Open that record, or send "
                "allow_duplicate=true if this really is another person.",
                code="possible_duplicate",
                extra={"duplicates": duplicates},
            )
    inquiry.save()
    InquiryStatusChange.objects.create(
        inquiry=inquiry,
        from_status="",
        to_status=InquiryStatus.NEW,
        changed_at=now,
        changed_by=actor,
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=inquiry,
        clinic=inquiry.clinic_id,
        patient_id=inquiry.patient_id,
    )
    return inquiry


def _phones_of(inquiry: Inquiry) -> list[str]:
    """The numbers that point at the same person: theirs, and the caller's unless the caller is
    a professional (a referrer calls about many people)."""
    phones = [inquiry.phone]
    if inquiry.caller_relation != CallerRelation.PROFESSIONAL:
        phones.append(inquiry.caller_phone)
    return [phone for phone in phones if phone]


@transaction.atomic
def inquiry_update(
    *, actor, inquiry: Inquiry, expected_versions: Collection[int] | None = None, **changes
) -> Inquiry:
    """Change an open inquiry's details: the person, the caller, the referral, the callback
    consent, the program considered, the next contact date, or link the patient it is about
    (of the same clinic). ``expected_versions``: the versions the caller read."""
    unknown = set(changes) - set(INQUIRY_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
    now = timezone.now()
    inquiry = inquiry_lock(inquiry.pk)
    require_version(inquiry, expected_versions, patient_id=inquiry.patient_id)
    inquiry_require_open(inquiry, "editing")
    changes = _normalize(dict(changes))
    changed = [name for name, value in changes.items() if getattr(inquiry, name) != value]
    if not changed:
        # Nothing to write, but the caller gets the inquiry back: that is a read.
        audit_record(
            actor=actor,
            action=AuditAction.READ,
            obj=inquiry,
            clinic=inquiry.clinic_id,
            patient_id=inquiry.patient_id,
        )
        return inquiry
    for name in changed:
        setattr(inquiry, name, changes[name])
    _validate(inquiry, today=inquiry.clinic.today(now))
    _check_links(inquiry)
    inquiry.save(update_fields=[*changed, "updated_at"])
    refresh_version(inquiry)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=inquiry,
        clinic=inquiry.clinic_id,
        patient_id=inquiry.patient_id,
    )
    return inquiry


# Screening ----------------------------------------------------------------------------------------


@transaction.atomic
def inquiry_screen(
    *,
    actor,
    inquiry: Inquiry,
    criteria_count: int,
    dimensions: dict[str, int],
    prior_outpatient_relapse: bool = False,
    daytime_obligations: bool = False,
    withdrawal_flags: Collection[str] = (),
    notes: str = "",
    now: datetime.datetime | None = None,
) -> InquiryScreening:
    """Screen the caller on the phone: the six dimensions rated provisionally and the DSM-5
    criteria described give a provisional level by the product's recommendation rule (the
    assessment's, severity from the criteria count). The first screening moves a new inquiry
    to ``screening``. Any withdrawal flag raises one urgent alert to the clinic's clinicians
    (once per inquiry, ever)."""
    now = now or timezone.now()
    inquiry = inquiry_lock(inquiry.pk)
    inquiry_require_open(inquiry, "a screening")
    if not isinstance(criteria_count, int) or not 0 <= criteria_count <= 11:
        raise ValidationError({"criteria_count": ["DSM-5 has 11 criteria: give 0 to 11."]})
    if set(dimensions) != set(DIMENSIONS):
        raise ValidationError({"dimensions": ["Rate exactly the six dimensions d1 to d6."]})
    bad = [name for name in DIMENSIONS if not 0 <= dimensions[name] <= 4]
    if bad:
        raise ValidationError({"dimensions": [f"{name} must be rated 0 to 4." for name in bad]})
    flags = list(dict.fromkeys(withdrawal_flags))
    unknown = sorted(set(flags) - set(WithdrawalRiskFlag.values))
    if unknown:
        raise ValidationError({"withdrawal_flags": [f"Unknown flag(s): {', '.join(unknown)}."]})
    recommendation = recommend(
        AssessmentFacts(
            severity=severity_from_criteria(criteria_count),
            dimensions={name: dimensions[name] for name in DIMENSIONS},
            prior_outpatient_relapse=prior_outpatient_relapse,
            daytime_obligations=daytime_obligations,
        )
    )
    screening = InquiryScreening.objects.create(
        inquiry=inquiry,
        screened_by=actor,
        screened_at=now,
        criteria_count=criteria_count,
        prior_outpatient_relapse=prior_outpatient_relapse,
        daytime_obligations=daytime_obligations,
        withdrawal_flags=flags,
        provisional_level=recommendation.level,
        provisional_track=recommendation.track or "",
        rationale=recommendation.rationale,
        notes=(notes or "").strip(),
        **{name: dimensions[name] for name in DIMENSIONS},
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=screening,
        clinic=inquiry.clinic_id,
        patient_id=inquiry.patient_id,
    )
    if inquiry.status == InquiryStatus.NEW:
        inquiry_status_move(inquiry, to_status=InquiryStatus.SCREENING, actor=actor, now=now)
    if flags:
        alert_raise(
            clinic_id=inquiry.clinic_id,
            kind=AlertKind.WITHDRAWAL_RISK,
            subject=inquiry,
            message=WITHDRAWAL_ALERT_MESSAGE,
            recipient_role=Role.CLINICIAN,
            patient_id=inquiry.patient_id,
            now=now,
        )
    return screening


# Verification of benefits -------------------------------------------------------------------------


@transaction.atomic
def inquiry_verify_benefits(
    *,
    actor,
    inquiry: Inquiry,
    payer: Payer,
    level: str,
    outcome: str,
    member_id: str = "",
    group_number: str = "",
    subscriber_relation: str = SubscriberRelation.SELF,
    in_network: bool | None = None,
    deductible_remaining: Decimal | None = None,
    out_of_pocket_remaining: Decimal | None = None,
    prior_authorization_required: bool | None = None,
    reference: str = "",
    notes: str = "",
    now: datetime.datetime | None = None,
) -> BenefitsVerification:
    """Record what the payer said about the person's benefits for ``level`` of care. It needs a
    screening on file (409 ``screening_required``); the first verification moves a screened
    inquiry to ``verifying``. A later verification supersedes the earlier; on admission the
    latest becomes the patient's coverage."""
    now = now or timezone.now()
    inquiry = inquiry_lock(inquiry.pk)
    inquiry_require_open(inquiry, "a verification of benefits")
    if not inquiry.screenings.exists():
        raise Conflict(
            "Screen the caller before verifying benefits: the level to verify comes from the "
            "screening.",
            code="screening_required",
        )
    errors = {}
    if payer.clinic_id != inquiry.clinic_id:
        errors["payer"] = ["This payer is not one of the inquiry's clinic."]
    if level not in Level.values:
        errors["level"] = [f"Choose one of {', '.join(Level.values)}."]
    if outcome not in BenefitsOutcome.values:
        errors["outcome"] = [f"Choose one of {', '.join(BenefitsOutcome.values)}."]
    for name, amount in (
        ("deductible_remaining", deductible_remaining),
        ("out_of_pocket_remaining", out_of_pocket_remaining),
    ):
        if amount is not None and amount < 0:
            errors[name] = ["Amounts remaining cannot be negative."]
    if errors:
        raise ValidationError(errors)
    verification = BenefitsVerification(
        inquiry=inquiry,
        payer=payer,
        member_id=(member_id or "").strip(),
        group_number=(group_number or "").strip(),
        subscriber_relation=subscriber_relation,
        level=level,
        in_network=in_network,
        deductible_remaining=deductible_remaining,
        out_of_pocket_remaining=out_of_pocket_remaining,
        prior_authorization_required=prior_authorization_required,
        outcome=outcome,
        reference=(reference or "").strip(),
        notes=(notes or "").strip(),
        verified_by=actor,
        verified_at=now,
    )
    verification.full_clean(exclude=["inquiry", "payer", "verified_by"], validate_constraints=False)
    verification.save()
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=verification,
        clinic=inquiry.clinic_id,
        patient_id=inquiry.patient_id,
    )
    if inquiry.status == InquiryStatus.SCREENING:
        inquiry_status_move(inquiry, to_status=InquiryStatus.VERIFYING, actor=actor, now=now)
    return verification


# Contacts -----------------------------------------------------------------------------------------


@transaction.atomic
def inquiry_contact_record(
    *,
    actor,
    inquiry: Inquiry,
    method: str,
    direction: str,
    outcome: str,
    note: str = "",
    next_contact_on: datetime.date | None = None,
    now: datetime.datetime | None = None,
) -> InquiryContact:
    """Record a call, text or e-mail with the caller, either way; ``next_contact_on`` (not in
    the clinic's past) becomes the inquiry's next contact date."""
    now = now or timezone.now()
    inquiry = inquiry_lock(inquiry.pk)
    inquiry_require_open(inquiry, "recording a contact")
    errors = {}
    for name, value, choices in (
        ("method", method, CallbackMethod),
        ("direction", direction, ContactDirection),
        ("outcome", outcome, ContactOutcome),
    ):
        if value not in choices.values:
            errors[name] = [f"Choose one of {', '.join(choices.values)}."]
    if next_contact_on is not None and next_contact_on < inquiry.clinic.today(now):
        errors["next_contact_on"] = ["The next contact cannot be in the past."]
    if errors:
        raise ValidationError(errors)
    contact = InquiryContact.objects.create(
        inquiry=inquiry,
        method=method,
        direction=direction,
        outcome=outcome,
        note=(note or "").strip(),
        contacted_by=actor,
        contacted_at=now,
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=contact,
        clinic=inquiry.clinic_id,
        patient_id=inquiry.patient_id,
    )
    if next_contact_on is not None and next_contact_on != inquiry.next_contact_on:
        inquiry.next_contact_on = next_contact_on
        inquiry.save(update_fields=["next_contact_on", "updated_at"])
        refresh_version(inquiry)
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            obj=inquiry,
            clinic=inquiry.clinic_id,
            patient_id=inquiry.patient_id,
        )
    return contact


# Referral sources ---------------------------------------------------------------------------------


def referral_sources_seed(clinic: Clinic) -> None:
    """Give ``clinic`` the default referral sources it lacks (idempotent: a name it has, in any
    case, is kept as it is)."""
    ReferralSource.objects.bulk_create(
        [
            ReferralSource(clinic=clinic, name=name, kind=kind)
            for name, kind in DEFAULT_REFERRAL_SOURCES
        ],
        ignore_conflicts=True,
    )
