"""Demo patients at every intake stage, with assessments that exercise each level of care.

Idempotent: a patient already registered (same clinic, names and birth date) is left alone.
Names are invented; contact details use reserved example domains and 555 numbers.
"""

import datetime

from django.db import transaction

from clinic.models import Clinic
from patients import services
from patients.models import Patient

ALL_LOW = {"d1": 0, "d2": 0, "d3": 1, "d4": 1, "d5": 1, "d6": 0}

# (first, last, birth date, channels, assessment or None, decision or None)
DEMO_PATIENTS = [
    # Withdrawal risk high: residential, decided as recommended.
    (
        "Jordan",
        "Reyes",
        "1986-03-14",
        ["email", "sms"],
        {
            "severity": "severe",
            "dimensions": {"d1": 3, "d2": 1, "d3": 2, "d4": 2, "d5": 3, "d6": 2},
            "co_occurring": ["depression"],
        },
        {"decided_level": "residential"},
    ),
    # Severe with a relapse after outpatient treatment: residential, still to be decided.
    (
        "Casey",
        "Morgan",
        "1979-11-02",
        ["sms"],
        {
            "severity": "severe",
            "prior_outpatient_relapse": True,
            "dimensions": {"d1": 1, "d2": 0, "d3": 2, "d4": 2, "d5": 3, "d6": 3},
            "co_occurring": ["ptsd"],
        },
        None,
    ),
    # Severe without the residential conditions: PHP.
    (
        "Riley",
        "Chen",
        "1992-07-21",
        ["email"],
        {"criteria_count": 7, "dimensions": {"d1": 1, "d2": 1, "d3": 2, "d4": 2, "d5": 2, "d6": 1}},
        {"decided_level": "php"},
    ),
    # Moderate with work during the day: IOP, evening track.
    (
        "Avery",
        "Patel",
        "1995-01-30",
        ["push", "email"],
        {
            "severity": "moderate",
            "daytime_obligations": True,
            "dimensions": {"d1": 1, "d2": 0, "d3": 1, "d4": 2, "d5": 2, "d6": 1},
        },
        {"decided_level": "iop"},
    ),
    # Moderate, no daytime obligations: IOP, day track.
    (
        "Sam",
        "Okafor",
        "1988-09-09",
        ["email"],
        {
            "severity": "moderate",
            "dimensions": {"d1": 0, "d2": 0, "d3": 2, "d4": 1, "d5": 2, "d6": 1},
        },
        {"decided_level": "iop"},
    ),
    # Mild: outpatient.
    (
        "Taylor",
        "Nguyen",
        "2000-05-17",
        [],
        {"severity": "mild", "dimensions": ALL_LOW},
        {"decided_level": "outpatient"},
    ),
    # The clinician steps the recommendation down, with a reason.
    (
        "Morgan",
        "Silva",
        "1983-12-05",
        ["email"],
        {
            "severity": "severe",
            "dimensions": {"d1": 1, "d2": 1, "d3": 3, "d4": 2, "d5": 2, "d6": 1},
        },
        {
            "decided_level": "iop",
            "override_reason": "Strong family support and a stable job; "
            "patient declines PHP and commits to the evening IOP schedule.",
        },
    ),
    # Registered, not yet assessed.
    ("Quinn", "Baker", "1997-02-11", [], None, None),
]


@transaction.atomic
def seed_demo_patients(*, clinic: Clinic, actor) -> list[Patient]:
    patients = []
    for first, last, born, channels, assessment, decision in DEMO_PATIENTS:
        birth_date = datetime.date.fromisoformat(born)
        existing = services.possible_duplicates(
            clinic=clinic, first_name=first, last_name=last, date_of_birth=birth_date
        ).first()
        if existing is not None:
            patients.append(existing)
            continue
        slug = f"{first}.{last}".lower()
        patient = services.patient_create(
            actor=actor,
            clinic=clinic,
            first_name=first,
            last_name=last,
            date_of_birth=birth_date,
            email=f"{slug}@example.org",
            phone=f"+1202555{len(patients):04d}",
            reminder_channels=channels,
        )
        services.contact_create(
            actor=actor,
            patient=patient,
            kind="emergency",
            name=f"Alex {last}",
            relationship="Sibling",
            phone=f"+1202555{len(patients) + 100:04d}",
        )
        services.consent_record(
            actor=actor,
            patient=patient,
            information="Dates of attendance and progress summary",
            recipients="Primary care physician",
            purpose="Coordination of care",
            recipients_tpo=True,
            purposes=["treatment"],
            categories=["demographics", "enrollments", "attendance", "aftercare"],
            revocation_how="In writing or in person at the front desk, at any time.",
            treatment_conditioned=False,
            # Dated from the seeding day: a fixed date would be "in the future" on some machine.
            signed_on=clinic.today() - datetime.timedelta(days=30),
            expiry_event="End of treatment",
        )
        if assessment is not None:
            recorded = services.assessment_create(actor=actor, patient=patient, **assessment)
            if decision is not None:
                services.assessment_decide(actor=actor, assessment=recorded, **decision)
        patients.append(patient)
    return patients
