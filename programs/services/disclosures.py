"""Disclosures of a patient's records to someone outside the clinic (42 CFR Part 2): the next
provider at a step-down or discharge, a payer, whoever the patient asks for.

Nothing leaves without a consent (patients ``Consent``) that, at that instant, is complete,
signed, neither revoked nor expired, and covers the recipient, the purpose and every category
sent. Each disclosure is a row of the accounting (§2.25) and an audit row, written together; a
refused one writes neither.
"""

import datetime
from collections.abc import Collection

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from clinic.errors import Conflict
from clinic.models import AuditAction, Role
from clinic.selectors import user_has_role
from clinic.services import audit_record
from patients.models import Consent, DisclosureCategory, DisclosurePurpose, Patient
from programs import fhir
from programs.models import Disclosure, Enrollment, EnrollmentStatus, Program, Transition

# Who may disclose, in the API and the admin alike; supervisors read the accounting.
DISCLOSURE_ROLES = (Role.ADMISSIONS, Role.CLINICIAN)

# What each category puts in the FHIR bundle (programs/fhir.py); the consent always goes too,
# as what permitted the disclosure.
FHIR_RESOURCES = {
    DisclosureCategory.DEMOGRAPHICS: ("Patient",),
    DisclosureCategory.ENROLLMENTS: ("EpisodeOfCare",),
    DisclosureCategory.ASSESSMENTS: ("Observation",),
    DisclosureCategory.ATTENDANCE: ("Appointment",),
    DisclosureCategory.AFTERCARE: ("CarePlan", "Goal"),
    DisclosureCategory.MEASURES: ("QuestionnaireResponse", "Observation"),
    DisclosureCategory.PROGRESS_NOTES: ("DocumentReference (progress notes)",),
    DisclosureCategory.PSYCHOTHERAPY_NOTES: ("DocumentReference (psychotherapy notes)",),
}
NO_CONSENT_ON_FILE = "no consent on file"


def disclosure_description(categories: Collection[str]) -> str:
    """What a disclosure of ``categories`` sends, for the accounting."""
    kinds = dict.fromkeys(
        kind for c in DisclosureCategory if c in categories for kind in FHIR_RESOURCES[c]
    )
    return f"FHIR R4 Bundle: {', '.join([*kinds, 'Consent'])}"


def patient_in_treatment(patient: Patient, today: datetime.date) -> bool:
    """False once treatment has ended, which an "end of treatment" consent expires with: the
    patient was discharged before today and has no stay open or planned. A hand-off on the
    discharge day itself is still part of the treatment."""
    counts = Enrollment.objects.filter(patient_id=patient.pk).aggregate(
        ended=Count("pk", filter=Q(status=EnrollmentStatus.DISCHARGED, discharge_date__lt=today)),
        ongoing=Count(
            "pk",
            filter=Q(status__in=[EnrollmentStatus.WAITLISTED, EnrollmentStatus.ADMITTED])
            | Q(status=EnrollmentStatus.DISCHARGED, discharge_date__gte=today),
        ),
    )
    return not (counts["ended"] and not counts["ongoing"])


def _discloser_problems(consent: Consent, patient: Patient, enrollment) -> list[str]:
    """The consent names who may disclose: the clinic (no program) or one of its programs."""
    if consent.discloser_program_id is None:
        return []
    program = Program.objects.filter(pk=consent.discloser_program_id).first()
    if program is None or program.clinic_id != patient.clinic_id:
        return ["the program named as discloser is not this clinic's"]
    if enrollment is not None and enrollment.program_id != program.pk:
        return [f"only {program.name} may disclose under it"]
    return []


def _validate(
    *,
    patient,
    recipient_name,
    purpose,
    purpose_other,
    categories,
    window_start,
    window_end,
    enrollment,
    transition,
) -> None:
    errors = {}
    if not recipient_name.strip():
        errors["recipient_name"] = ["Name the recipient."]
    if purpose not in DisclosurePurpose.values:
        errors["purpose"] = [f"Unknown purpose: {purpose}."]
    elif purpose == DisclosurePurpose.OTHER and not purpose_other.strip():
        errors["purpose_other"] = ["Describe the other purpose."]
    unknown = [c for c in categories if c not in DisclosureCategory.values]
    if not categories:
        errors["categories"] = ["Choose what to disclose."]
    elif unknown:
        errors["categories"] = [f"Unknown category: {', '.join(unknown)}."]
    if window_start and window_end and window_end < window_start:
        errors["window_end"] = ["The window ends after it starts."]
    if enrollment is not None and enrollment.patient_id != patient.pk:
        errors["enrollment"] = ["This enrollment is another patient's."]
    if transition is not None and transition.patient_id != patient.pk:
        errors["transition"] = ["This transition is another patient's."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def disclosure_create(
    *,
    actor,
    patient: Patient,
    recipient_name: str,
    recipient_address: str,
    purpose: str,
    categories: Collection[str],
    purpose_other: str = "",
    window_start: datetime.date | None = None,
    window_end: datetime.date | None = None,
    enrollment: Enrollment | None = None,
    transition: Transition | None = None,
    now: datetime.datetime | None = None,
) -> Disclosure:
    """Disclose ``categories`` of the patient's records to ``recipient_name`` for ``purpose``,
    under a consent that covers it now; otherwise a 409 ``no_consent`` naming what is missing,
    and nothing is written."""
    if not (actor.is_superuser or user_has_role(actor, *DISCLOSURE_ROLES)):
        raise PermissionDenied("Only admissions and clinicians disclose records.")
    categories = [c for c in DisclosureCategory.values if c in set(categories)]
    recipient_name = " ".join(recipient_name.split())
    _validate(
        patient=patient,
        recipient_name=recipient_name,
        purpose=purpose,
        purpose_other=purpose_other,
        categories=categories,
        window_start=window_start,
        window_end=window_end,
        enrollment=enrollment,
        transition=transition,
    )
    now = now or timezone.now()
    patient = Patient.objects.select_related("clinic").get(pk=patient.pk)
    today = patient.clinic.today(now)
    # The patient's consents stay locked until this transaction ends: a revocation (which locks
    # its consent's row) either commits first, and is seen here, or waits until this disclosure
    # is recorded; no disclosure is made under a consent after its revocation committed.
    consents = list(
        Consent.objects.select_for_update(of=("self",))
        .select_related("patient")
        .filter(patient_id=patient.pk)
        .order_by("-signed_on", "-id")
    )
    in_treatment = patient_in_treatment(patient, today)
    best: tuple[Consent, list[str]] | None = None
    for consent in consents:
        problems = consent.covers(
            recipient=recipient_name,
            purpose=purpose,
            categories=categories,
            on=today,
            in_treatment=in_treatment,
        ) + _discloser_problems(consent, patient, enrollment)
        if not problems:
            break
        if best is None or len(problems) < len(best[1]):
            best = (consent, problems)
    else:
        missing = best[1] if best else [NO_CONSENT_ON_FILE]
        raise Conflict(
            "No consent on file permits this disclosure: " + "; ".join(missing) + ".",
            code="no_consent",
            extra={"missing": missing, "consent": best[0].pk if best else None},
        )
    disclosure = Disclosure(
        patient=patient,
        consent=consent,
        recipient_name=recipient_name,
        recipient_address=recipient_address.strip(),
        purpose=purpose,
        purpose_other=purpose_other.strip() if purpose == DisclosurePurpose.OTHER else "",
        categories=categories,
        description=disclosure_description(categories),
        window_start=window_start,
        window_end=window_end,
        disclosed_by=actor,
        disclosed_at=now,
        transition=transition,
        enrollment=enrollment,
    )
    # What is sent is fixed now: the document is stored with the row (which nothing updates).
    disclosure.bundle = fhir.disclosure_bundle(disclosure)
    disclosure.save(force_insert=True)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=disclosure, patient=patient)
    return disclosure
