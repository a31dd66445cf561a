"""Writes of the patients app: one function per use case, each atomic and audited (patients,
contacts, consents, assessments, the patient's app account).

The API and the admin call these same functions, so both refuse the same input with the same
messages and leave the same audit rows.
"""

import datetime
from collections.abc import Collection

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from clinic.errors import Conflict
from clinic.models import USERNAME_TAKEN, AuditAction, Clinic, Role
from clinic.services import audit_record
from clinic.sql import Table, statement
from clinic.versions import refresh_version, require_version
from patients import activation, hooks
from patients.models import (
    CONSENT_ELEMENTS,
    DIMENSIONS,
    PSYCHOTHERAPY_NOTES_ALONE,
    ActivationCode,
    Assessment,
    Consent,
    DisclosureCategory,
    Level,
    MrnCounter,
    Patient,
    PatientContact,
    ReminderChannel,
    Severity,
    Track,
)
from patients.recommendation import AssessmentFacts, recommend, severity_from_criteria
from patients.selectors import activation_codes_open, has_active_app_account

MAX_AGE_YEARS = 120
# Who may write a patient's record (intake), in the API and the admin; supervisors only read.
PATIENT_WRITE_ROLES = (Role.ADMISSIONS, Role.CLINICIAN)
PATIENT_EDITABLE_FIELDS = (
    "first_name",
    "last_name",
    "date_of_birth",
    "email",
    "phone",
    "reminder_channels",
    "screening_sex",
)


# Patients -----------------------------------------------------------------------------------------


def _patient_errors(patient: Patient) -> dict[str, list[str]]:
    """Field errors beyond the field types: the date of birth's range and channel consent."""
    errors: dict[str, list[str]] = {}
    today = patient.clinic.today()
    if patient.date_of_birth:
        if patient.date_of_birth > today:
            errors["date_of_birth"] = ["The date of birth cannot be in the future."]
        elif patient.date_of_birth < today.replace(year=today.year - MAX_AGE_YEARS):
            errors["date_of_birth"] = [f"The date of birth is more than {MAX_AGE_YEARS} years ago."]
    channels = list(patient.reminder_channels or [])
    unknown = sorted(set(channels) - set(ReminderChannel.values))
    problems = []
    if unknown:
        problems.append(
            f"Unknown channel(s): {', '.join(unknown)}. Choose from email, sms and push."
        )
    if len(set(channels)) != len(channels):
        problems.append("A channel is listed twice.")
    if ReminderChannel.SMS in channels and not patient.phone:
        problems.append("SMS reminders need a phone number.")
    if ReminderChannel.EMAIL in channels and not patient.email:
        problems.append("E-mail reminders need an e-mail address.")
    if problems:
        errors["reminder_channels"] = problems
    return errors


def _validate_patient(patient: Patient) -> None:
    errors = {}
    try:
        patient.full_clean(
            exclude=["mrn", "clinic", "created_by", "app_user", "reminder_channels_recorded_by"],
            validate_constraints=False,
        )
    except ValidationError as error:
        errors.update(error.message_dict)
    for name, messages in _patient_errors(patient).items():
        errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)


# One upsert: the clinic's counter row, incremented and locked until commit.
_NEXT_MRN_SQL = statement(
    """
INSERT INTO {c} ({c.clinic_id}, {c.last_value}) VALUES (%s, 1)
ON CONFLICT ({c.clinic_id}) DO UPDATE SET {c.last_value} = {c}.{c.last_value} + 1
RETURNING {c.last_value}
""",
    c=Table(MrnCounter),
)


def _issue_mrn(clinic: Clinic) -> str:
    """The clinic's next medical record number.

    One upsert both increments the counter and locks its row until commit, so concurrent
    registrations in a clinic queue here (which also makes the duplicate check below race-free)
    and a rolled-back registration hands its number back instead of leaving a gap.
    """
    with connection.cursor() as cursor:
        cursor.execute(_NEXT_MRN_SQL, [clinic.pk])
        (value,) = cursor.fetchone()
    return f"{value:07d}"


def possible_duplicates(
    *,
    clinic: Clinic,
    first_name: str,
    last_name: str,
    date_of_birth: datetime.date,
    exclude_id: int | None = None,
):
    """Patients of the clinic with the same names (ignoring case and spaces) and birth date."""
    queryset = Patient.objects.annotate(
        first_lower=Lower("first_name"), last_lower=Lower("last_name")
    ).filter(
        clinic=clinic,
        date_of_birth=date_of_birth,
        first_lower=first_name.strip().lower(),
        last_lower=last_name.strip().lower(),
    )
    if exclude_id is not None:
        queryset = queryset.exclude(pk=exclude_id)
    return queryset


@transaction.atomic
def patient_create(
    *,
    actor,
    clinic: Clinic,
    first_name: str,
    last_name: str,
    date_of_birth: datetime.date,
    email: str = "",
    phone: str = "",
    reminder_channels=(),
    screening_sex: str = "",
    allow_duplicate: bool = False,
) -> Patient:
    patient = Patient(
        clinic=clinic,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        date_of_birth=date_of_birth,
        email=email or "",
        phone=phone or "",
        reminder_channels=list(reminder_channels),
        screening_sex=screening_sex or "",
        created_by=actor,
    )
    if patient.reminder_channels:
        patient.reminder_channels_recorded_by = actor
        patient.reminder_channels_recorded_at = timezone.now()
    _validate_patient(patient)
    patient.mrn = _issue_mrn(clinic)
    if not allow_duplicate:
        duplicates = list(
            possible_duplicates(
                clinic=clinic,
                first_name=patient.first_name,
                last_name=patient.last_name,
                date_of_birth=date_of_birth,
            ).values_list("id", flat=True)
        )
        if duplicates:
            raise Conflict(
                "A patient with the same names and date of birth is already registered at this "
                "clinic. Open that record, or send allow_duplicate=true if this really is "
                "another person.",
                code="possible_duplicate",
                extra={"duplicates": duplicates},
            )
    patient.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=patient, patient=patient)
    return patient


@transaction.atomic
def patient_update(
    *, actor, patient: Patient, expected_versions: Collection[int] | None = None, **changes
) -> Patient:
    """Change a patient's names, birth date or contact details, or their reminder consent.

    A channel added plans its reminders for the sessions already on the patient's schedule, in
    this transaction; one removed stops the reminders planned for it when they fall due.
    ``expected_versions``: the versions the caller read (``clinic.versions``)."""
    unknown = set(changes) - set(PATIENT_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in unknown})
    now = timezone.now()
    patient = Patient.objects.select_for_update().select_related("clinic").get(pk=patient.pk)
    require_version(patient, expected_versions, patient_id=patient.pk)
    had = list(patient.reminder_channels)
    changed = [name for name, value in changes.items() if getattr(patient, name) != value]
    for name in changed:
        setattr(patient, name, changes[name])
    if "reminder_channels" in changed:
        patient.reminder_channels = list(patient.reminder_channels)
        patient.reminder_channels_recorded_by = actor
        patient.reminder_channels_recorded_at = now
        changed += ["reminder_channels_recorded_by", "reminder_channels_recorded_at"]
    if patient.sms_opted_out_at is not None and {"reminder_channels", "phone"} & set(changed):
        # A STOP counts until someone records the channels again or the number changes: a
        # START after that must not override them (nor re-subscribe another number).
        patient.sms_opted_out_at = None
        changed.append("sms_opted_out_at")
    if not changed:
        # Nothing to write, but the caller gets the record back: that is a read.
        audit_record(actor=actor, action=AuditAction.READ, obj=patient, patient=patient)
        return patient
    _validate_patient(patient)
    patient.save(update_fields=[*changed, "updated_at"])
    refresh_version(patient)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=patient, patient=patient)
    added = [channel for channel in patient.reminder_channels if channel not in had]
    if added:
        hooks.reminder_planner().channels_added(patient_ids=[patient.pk], channels=added, now=now)
    return patient


_CHANNEL_RECORD_FIELDS = [
    "reminder_channels",
    "reminder_channels_recorded_by",
    "reminder_channels_recorded_at",
    "sms_opted_out_at",
    "updated_at",
]


@transaction.atomic
def patient_sms_opt_out(*, phone: str) -> list[int]:
    """A ``STOP`` texted back to the clinic's number: every patient with that number stops
    getting SMS at once (pending SMS reminders are refused at send time). No staff actor: the
    audit rows name none. Returns the ids of the patients changed."""
    now = timezone.now()
    patients = list(
        Patient.objects.select_for_update().filter(
            phone=phone, reminder_channels__contains=[ReminderChannel.SMS]
        )
    )
    for patient in patients:
        patient.reminder_channels = [
            channel for channel in patient.reminder_channels if channel != ReminderChannel.SMS
        ]
        patient.reminder_channels_recorded_by = None
        patient.reminder_channels_recorded_at = now
        patient.sms_opted_out_at = now  # what a START may undo
        patient.updated_at = now  # bulk_update does not touch auto_now fields
    Patient.objects.bulk_update(patients, _CHANNEL_RECORD_FIELDS)
    for patient in patients:
        audit_record(actor=None, action=AuditAction.UPDATE, obj=patient, patient=patient)
    return [patient.pk for patient in patients]


@transaction.atomic
def patient_sms_opt_in(*, phone: str) -> list[int]:
    """A ``START`` (or ``UNSTOP``…) texted back: SMS comes back for the patients with that number
    whose SMS a STOP took away and whose channels nobody has recorded since (``sms_opted_out_at``);
    a patient who never chose SMS, or whose staff changed the channels after the STOP, keeps what
    is on file. Their SMS reminders for the sessions already on their schedule are planned;
    pending ones the STOP left are simply sent, those refused at send time while it held stay
    cancelled (one row per reminder, ever). Audited like the STOP, without an actor. Returns the
    ids of the patients changed."""
    now = timezone.now()
    patients = list(
        Patient.objects.select_for_update().filter(phone=phone, sms_opted_out_at__isnull=False)
    )
    for patient in patients:
        patient.reminder_channels = [*patient.reminder_channels, ReminderChannel.SMS]
        patient.reminder_channels_recorded_by = None
        patient.reminder_channels_recorded_at = now
        patient.sms_opted_out_at = None
        patient.updated_at = now  # bulk_update does not touch auto_now fields
    Patient.objects.bulk_update(patients, _CHANNEL_RECORD_FIELDS)
    for patient in patients:
        audit_record(actor=None, action=AuditAction.UPDATE, obj=patient, patient=patient)
    changed = [patient.pk for patient in patients]
    if changed:
        hooks.reminder_planner().channels_added(
            patient_ids=changed, channels=[ReminderChannel.SMS], now=now
        )
    return changed


# Contacts -----------------------------------------------------------------------------------------


@transaction.atomic
def contact_create(
    *,
    actor,
    patient: Patient,
    kind: str,
    name: str,
    relationship: str = "",
    phone: str = "",
    email: str = "",
) -> PatientContact:
    contact = PatientContact(
        patient=patient,
        kind=kind,
        name=name.strip(),
        relationship=relationship,
        phone=phone or "",
        email=email or "",
    )
    _validate_contact(contact)
    contact.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=contact, patient=patient)
    return contact


@transaction.atomic
def contact_update(
    *,
    actor,
    contact: PatientContact,
    expected_versions: Collection[int] | None = None,
    **changes,
) -> PatientContact:
    allowed = {"kind", "name", "relationship", "phone", "email"}
    if set(changes) - allowed:
        raise ValidationError(
            {name: ["This field cannot be changed."] for name in set(changes) - allowed}
        )
    contact = _lock_contact(contact)
    require_version(contact, expected_versions, patient_id=contact.patient_id)
    for name, value in changes.items():
        setattr(contact, name, value)
    _validate_contact(contact)
    contact.save(update_fields=list(changes) or None)
    refresh_version(contact)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=contact, patient=contact.patient)
    return contact


@transaction.atomic
def contact_delete(
    *, actor, contact: PatientContact, expected_versions: Collection[int] | None = None
) -> None:
    contact = _lock_contact(contact)
    require_version(contact, expected_versions, patient_id=contact.patient_id)
    audit_record(actor=actor, action=AuditAction.DELETE, obj=contact, patient=contact.patient)
    contact.delete()


def _lock_contact(contact: PatientContact) -> PatientContact:
    # Two edits of one contact queue here, so the second compares its version with the first's
    # result instead of overwriting it.
    return (
        PatientContact.objects.select_for_update(of=("self",))
        .select_related("patient")
        .get(pk=contact.pk)
    )


def _validate_contact(contact: PatientContact) -> None:
    contact.full_clean(exclude=["patient"], validate_constraints=False)
    if not contact.phone and not contact.email:
        raise ValidationError({"phone": ["A contact needs a phone number or an e-mail address."]})


# Consents -----------------------------------------------------------------------------------------


@transaction.atomic
def consent_record(
    *,
    actor,
    patient: Patient,
    signed_on: datetime.date,
    information: str = "",
    recipients: str = "",
    purpose: str = "",
    expires_on: datetime.date | None = None,
    expiry_event: str = "",
    discloser: str = "",
    discloser_program_id: int | None = None,
    recipients_tpo: bool = False,
    recipient_names: Collection[str] = (),
    purposes: Collection[str] = (),
    purpose_other: str = "",
    categories: Collection[str] = (),
    revocation_how: str = "",
    no_expiry: bool = False,
    signer_relation: str = "",
    signer_name: str = "",
    treatment_conditioned: bool | None = None,
) -> Consent:
    """Record a signed consent. It must hold every §2.31 element: an incomplete one is refused
    with a field error per missing element (a consent that cannot permit anything is not kept).
    ``discloser_program_id`` is checked by the programs service that uses the consent."""
    names = list(dict.fromkeys(" ".join(n.split()) for n in recipient_names if n.strip()))
    consent = Consent(
        patient=patient,
        discloser=discloser or patient.clinic.name,
        discloser_program_id=discloser_program_id,
        information=information,
        recipients=recipients or "; ".join(names),
        purpose=purpose or purpose_other,
        recipients_tpo=recipients_tpo,
        recipient_names=names,
        purposes=list(dict.fromkeys(purposes)),
        purpose_other=purpose_other.strip(),
        categories=list(dict.fromkeys(categories)),
        revocation_how=revocation_how.strip(),
        signed_on=signed_on,
        expires_on=expires_on,
        expiry_event=(expiry_event or "").strip(),
        no_expiry=no_expiry,
        signer_relation=signer_relation.strip(),
        signer_name=signer_name.strip(),
        treatment_conditioned=treatment_conditioned,
        recorded_by=actor,
    )
    errors = {element: [CONSENT_ELEMENTS[element]] for element in consent.missing_elements()}
    if signed_on > patient.clinic.today():
        errors["signed_on"] = ["A consent cannot be signed in the future."]
    if no_expiry and not recipients_tpo:
        errors["no_expiry"] = ["Only a treatment, payment and operations consent may have none."]
    elif no_expiry and (expires_on is not None or consent.expiry_event):
        errors["no_expiry"] = ["A consent without expiry has no expiry date or event."]
    if expires_on is not None and expires_on < signed_on:
        errors["expires_on"] = ["A consent cannot expire before it is signed."]
    if DisclosureCategory.PSYCHOTHERAPY_NOTES in consent.categories and (
        len(consent.categories) > 1
    ):
        errors["categories"] = [PSYCHOTHERAPY_NOTES_ALONE]
    if errors:
        raise ValidationError(errors)
    consent.full_clean(exclude=["patient", "recorded_by"], validate_constraints=False)
    consent.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=consent, patient=patient)
    return consent


def _consent_lock(consent: Consent) -> Consent:
    return (
        Consent.objects.select_for_update(of=("self",))
        .select_related("patient__clinic")
        .get(pk=consent.pk)
    )


@transaction.atomic
def consent_revoke(
    *, actor, consent: Consent, revoked_on: datetime.date | None = None, now=None
) -> Consent:
    """Revoke a consent from ``revoked_on`` (default: the clinic's today): it permits nothing
    from that day. Recorded, never deleted. The row lock serialises it with a disclosure that
    checks this consent, so no disclosure is made under it once the revocation commits."""
    now = now or timezone.now()
    consent = _consent_lock(consent)
    if consent.revoked_on is not None:
        raise Conflict(
            f"This consent was already revoked on {consent.revoked_on}.", code="already_revoked"
        )
    if revoked_on is None:
        revoked_on = consent.patient.clinic.today(now)
    if revoked_on < consent.signed_on:
        raise ValidationError({"revoked_on": ["A consent cannot be revoked before it is signed."]})
    consent.revoked_on = revoked_on
    consent.revoked_by = actor
    consent.revoked_at = now
    consent.save(update_fields=["revoked_on", "revoked_by", "revoked_at"])
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=consent, patient=consent.patient)
    return consent


# Assessments --------------------------------------------------------------------------------------


def _resolve_severity(severity: str | None, criteria_count: int | None) -> Severity:
    if criteria_count is None and not severity:
        raise ValidationError({"severity": ["Give the severity or the DSM-5 criteria count."]})
    if criteria_count is None:
        return Severity(severity)
    derived = severity_from_criteria(criteria_count)
    if severity and severity != derived:
        raise ValidationError(
            {"severity": [f"{criteria_count} criteria met means {derived.value}, not {severity}."]}
        )
    return derived


@transaction.atomic
def assessment_create(
    *,
    actor,
    patient: Patient,
    dimensions: dict[str, int],
    severity: str | None = None,
    criteria_count: int | None = None,
    prior_outpatient_relapse: bool = False,
    daytime_obligations: bool = False,
    co_occurring=(),
    notes: str = "",
    assessed_at: datetime.datetime | None = None,
) -> Assessment:
    resolved = _resolve_severity(severity, criteria_count)
    missing = [name for name in DIMENSIONS if name not in dimensions]
    if missing or set(dimensions) - set(DIMENSIONS):
        raise ValidationError({"dimensions": ["Rate exactly the six dimensions d1 to d6."]})
    bad = [name for name in DIMENSIONS if not 0 <= dimensions[name] <= 4]
    if bad:
        raise ValidationError({"dimensions": [f"{name} must be rated 0 to 4." for name in bad]})
    now = timezone.now()
    if assessed_at is not None and assessed_at > now:
        raise ValidationError({"assessed_at": ["An assessment cannot be in the future."]})
    co_occurring = list(dict.fromkeys(co_occurring))
    recommendation = recommend(
        AssessmentFacts(
            severity=resolved,
            dimensions={name: dimensions[name] for name in DIMENSIONS},
            prior_outpatient_relapse=prior_outpatient_relapse,
            daytime_obligations=daytime_obligations,
            co_occurring=tuple(co_occurring),
        )
    )
    assessment = Assessment(
        patient=patient,
        assessed_by=actor,
        assessed_at=assessed_at or now,
        criteria_count=criteria_count,
        severity=resolved,
        prior_outpatient_relapse=prior_outpatient_relapse,
        daytime_obligations=daytime_obligations,
        co_occurring=co_occurring,
        notes=notes,
        recommended_level=recommendation.level,
        recommended_track=recommendation.track or "",
        rationale=recommendation.rationale,
        **{name: dimensions[name] for name in DIMENSIONS},
    )
    assessment.full_clean(exclude=["patient", "assessed_by"], validate_constraints=False)
    assessment.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=assessment, patient=patient)
    return assessment


@transaction.atomic
def assessment_decide(
    *,
    actor,
    assessment: Assessment,
    decided_level: str,
    decided_track: str = "",
    override_reason: str = "",
    expected_versions: Collection[int] | None = None,
) -> Assessment:
    """Record the clinician's decision; a level that differs from the recommendation needs a
    reason. A decision is final: a changed picture is a reassessment (a new assessment)."""
    # Lock so that two clinicians deciding at once cannot both succeed.
    assessment = (
        Assessment.objects.select_for_update().select_related("patient").get(pk=assessment.pk)
    )
    require_version(assessment, expected_versions, patient_id=assessment.patient_id)
    if assessment.decided_level:
        raise Conflict(
            "A decision was already recorded for this assessment; record a reassessment to "
            "change the plan.",
            code="already_decided",
        )
    errors = {}
    if decided_level not in Level.values:
        errors["decided_level"] = [f"Choose one of {', '.join(Level.values)}."]
    override_reason = (override_reason or "").strip()
    if decided_level != assessment.recommended_level and not override_reason:
        errors["override_reason"] = [
            f"The decision differs from the recommendation ({assessment.recommended_level}); "
            "give the reason."
        ]
    if decided_track and decided_track not in Track.values:
        errors["decided_track"] = [f"Choose one of {', '.join(Track.values)}."]
    if decided_track and decided_level != Level.IOP:
        errors["decided_track"] = ["A track is chosen only for intensive outpatient care."]
    if errors:
        raise ValidationError(errors)
    if decided_level == Level.IOP and not decided_track:
        decided_track = assessment.recommended_track or Track.DAY
    assessment.decided_level = decided_level
    assessment.decided_track = decided_track
    assessment.override_reason = override_reason
    assessment.decided_by = actor
    assessment.decided_at = timezone.now()
    assessment.save(
        update_fields=[
            "decided_level",
            "decided_track",
            "override_reason",
            "decided_by",
            "decided_at",
        ]
    )
    refresh_version(assessment)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=assessment, patient=assessment.patient)
    return assessment


# The patient's app account ----------------------------------------------------------------------


def _patient_lock(patient_id: int) -> Patient:
    # Issuing, activating and revoking all lock the patient first, then its codes: one order,
    # so they queue behind each other instead of deadlocking.
    return Patient.objects.select_for_update().get(pk=patient_id)


@transaction.atomic
def activation_code_issue(*, actor, patient: Patient) -> tuple[ActivationCode, str]:
    """A new code for the patient, replacing any earlier unused one. Returns the row and the
    plain code, which the caller shows once: only its hash is kept."""
    patient = _patient_lock(patient.pk)
    if has_active_app_account(patient):
        raise Conflict(
            "The patient already has an active app account. Revoke its access first to issue "
            "a new activation code.",
            code="app_account_active",
        )
    now = timezone.now()
    activation_codes_open(patient=patient).update(revoked_at=now)
    plain = activation.code_new()
    code = ActivationCode.objects.create(
        patient=patient,
        code_hash=activation.code_hash(plain),
        created_by=actor,
        expires_at=now + datetime.timedelta(hours=settings.ACTIVATION_CODE_HOURS),
    )
    audit_record(actor=actor, action=AuditAction.CREATE, obj=code, patient=patient)
    return code, plain


def _new_account_errors(user, password: str) -> dict[str, list[str]]:
    errors = {}
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as error:
        errors["password"] = list(error.messages)
    return errors


def patient_app_activate(
    *, activation_code: str, date_of_birth: datetime.date, username: str, password: str
):
    """Create the patient's app account from a code and the date of birth; returns the user.

    The password is checked first, against nothing the code decides or any account holds, so
    its field errors tell nothing. Then the code and date of birth: every failure there is the
    same ``ActivationRefused``. Only then the username: whether it is taken (in any case: the
    database's index on ``lower(username)`` decides) is told only to a caller who holds both.

    Not one atomic block on purpose: a wrong date of birth must count (and lock the code at the
    fifth) even though the request fails, so the count commits before the refusal is raised.
    Callers must not wrap this in a transaction of their own.
    """
    errors = _new_account_errors(get_user_model()(username=username), password)
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        user = _activate_under_lock(
            activation.code_hash(activation_code),
            date_of_birth,
            username=username,
            password=password,
        )
    if user is None:
        raise activation.ActivationRefused()
    return user


def _activate_under_lock(hashed: str, date_of_birth, *, username: str, password: str):
    """The account for a good code and date of birth, else None (after counting a wrong date)."""
    patient_id = (
        ActivationCode.objects.filter(code_hash=hashed).values_list("patient_id", flat=True).first()
    )
    if patient_id is None:
        return None
    patient = _patient_lock(patient_id)
    # Locked after the patient, and read again under the lock: of concurrent activations with
    # one code, the first marks it used and every later one sees that here.
    code = ActivationCode.objects.select_for_update().get(code_hash=hashed)
    now = timezone.now()
    if (
        code.used_at is not None
        or code.locked_at is not None
        or code.revoked_at is not None
        or code.expires_at <= now
        or has_active_app_account(patient)
    ):
        return None
    if date_of_birth != patient.date_of_birth:
        code.failed_attempts += 1
        changed = ["failed_attempts"]
        if code.failed_attempts >= activation.MAX_FAILED_ATTEMPTS:
            code.locked_at = now
            changed.append("locked_at")
        code.save(update_fields=changed)
        audit_record(actor=None, action=AuditAction.UPDATE, obj=code, patient=patient)
        return None

    User = get_user_model()
    # Only now, with the right code and date of birth: a password too close to the patient's
    # own names. The answer reaches only someone who already holds both.
    errors = _new_account_errors(
        User(
            username=username,
            first_name=patient.first_name,
            last_name=patient.last_name,
            email=patient.email,
        ),
        password,
    )
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, password=password)
    except IntegrityError as error:
        # The unique indexes on username and lower(username); nothing else can clash here.
        raise ValidationError({"username": [USERNAME_TAKEN]}) from error
    patient.app_user = user
    patient.save(update_fields=["app_user", "updated_at"])
    code.used_at = now
    code.save(update_fields=["used_at"])
    audit_record(actor=user, action=AuditAction.UPDATE, obj=code, patient=patient)
    return user


@transaction.atomic
def patient_app_access_revoke(*, actor, patient: Patient) -> None:
    """Turn the patient's app off at once: the account is disabled (its access tokens fail on
    the next request), every refresh token it holds is blacklisted, and open codes are revoked.
    A new code can be issued afterwards; activating it makes a new account."""
    patient = _patient_lock(patient.pk)
    now = timezone.now()
    codes_revoked = activation_codes_open(patient=patient).update(revoked_at=now)
    user = patient.app_user
    if user is not None and user.is_active:
        user.is_active = False
        # The save voids the account's refresh tokens (clinic.signals), in this transaction.
        user.save(update_fields=["is_active"])
    elif not codes_revoked:
        raise Conflict("The patient has no app access to revoke.", code="no_app_access")
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=patient, patient=patient)
