"""Beds hold one patient at a time, and a transition's rows belong to one patient, in the
database."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from clinic.models import Bed
from patients import services as patient_services
from programs.models import Enrollment, Transition
from programs.services import enrollments as services
from tests.programs.enrollments.helpers import (
    TODAY,
    enroll,
    frozen,
    step_down_after_a_stay,
)

pytestmark = pytest.mark.django_db


# Beds ---------------------------------------------------------------------------------------------


@frozen
def test_beds_hold_one_patient_at_a_time(client_for, admissions, clinic, residential, patients):
    bed = Bed.objects.create(clinic=clinic, room="A", label="1")
    residential.beds.add(bed)
    client = client_for(admissions)
    first = enroll(client, patients[0], residential).json()
    second = enroll(client, patients[1], residential).json()

    assigned = client.post(
        f"/api/v1/enrollments/{first['id']}/bed/", {"bed": bed.pk}, format="json"
    )
    taken = client.post(f"/api/v1/enrollments/{second['id']}/bed/", {"bed": bed.pk}, format="json")
    client.post(
        f"/api/v1/enrollments/{first['id']}/discharge/",
        {"date": "2026-12-03", "reason": "completed"},
        format="json",
    )
    later = client.post(
        f"/api/v1/enrollments/{second['id']}/bed/",
        {"bed": bed.pk, "date": "2026-12-03"},
        format="json",
    )

    assert assigned.status_code == 201
    assert taken.status_code == 409
    assert taken.json()["code"] == "bed_taken"
    assert later.status_code == 201  # the discharge released the bed


def test_the_database_refuses_two_patients_in_one_bed(clinic, admissions, residential, patients):
    from programs.models import BedAssignment

    bed = Bed.objects.create(clinic=clinic, room="A", label="1")
    today = clinic.today()
    stays = [
        services.enrollment_create(
            actor=admissions, patient=p, program=residential, start_date=today
        )
        for p in patients[:2]
    ]
    BedAssignment.objects.create(
        bed=bed, enrollment=stays[0], start_date=today, assigned_by=admissions
    )

    with pytest.raises(IntegrityError, match="bed_holds_one_patient"), transaction.atomic():
        BedAssignment.objects.create(
            bed=bed,
            enrollment=stays[1],
            start_date=today + datetime.timedelta(days=2),
            assigned_by=admissions,
        )


@frozen
def test_a_transition_and_its_enrollments_and_assessments_are_one_patients_in_the_database(
    admissions, clinician, residential, iop, patients
):
    """Composite foreign keys (programs migration 0008) refuse, whatever the code path, a
    transition whose enrollments or assessment belong to another patient, an enrollment with
    another patient's assessment, and moving an enrollment a transition names to another
    patient."""
    ana, ben = patients[0], patients[1]
    ana_assessment, ben_assessment = (
        patient_services.assessment_create(
            actor=clinician,
            patient=patient,
            severity="severe",
            dimensions={"d1": 3, "d2": 1, "d3": 1, "d4": 1, "d5": 1, "d6": 1},
        )
        for patient in (ana, ben)
    )
    move = step_down_after_a_stay(
        admissions, clinician, ana, residential, iop, assessment=ana_assessment
    )
    source = move.from_enrollment
    bens_stay = services.enrollment_create(
        actor=admissions, patient=ben, program=iop, start_date=TODAY
    )

    assert move.patient_id == ana.pk
    transitions = Transition.objects.filter(pk=move.pk)
    refused = [
        (
            "transition_to_enrollment_of_patient",
            lambda: transitions.update(to_enrollment=bens_stay),
        ),
        ("transition_from_enrollment_of_patient", lambda: transitions.update(patient=ben)),
        (
            "transition_assessment_of_patient",
            lambda: transitions.update(assessment=ben_assessment),
        ),
        (
            "enrollment_assessment_of_patient",
            lambda: Enrollment.objects.filter(pk=bens_stay.pk).update(assessment=ana_assessment),
        ),
        (
            "transition_from_enrollment_of_patient",
            lambda: Enrollment.objects.filter(pk=source.pk).update(patient=ben),
        ),
    ]
    for constraint, write in refused:
        with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
            write()  # (the composite keys are not deferred: the write itself fails)
    # Ana's own assessment on her own stay is fine.
    Enrollment.objects.filter(pk=source.pk).update(assessment=ana_assessment)
