"""Payers of a clinic and a patient's coverage by them: one payer name per clinic, one primary
coverage at a time, the payer and the patient of one clinic, edits against the version read."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from clinic.errors import PreconditionFailed
from clinic.models import AuditEvent
from programs.models import Coverage, Payer
from programs.services import authorizations
from tests.factories import CoverageFactory, PatientFactory, PayerFactory

pytestmark = pytest.mark.django_db

JAN_1 = datetime.date(2026, 1, 1)


def test_a_payer_name_is_taken_once_per_clinic_whatever_its_case(clinic, other_clinic, admissions):
    PayerFactory(clinic=clinic, name="Blue Harbor", actor=admissions)
    with pytest.raises(IntegrityError, match="payer_name_unique_per_clinic"), transaction.atomic():
        PayerFactory(clinic=clinic, name="BLUE HARBOR", actor=admissions)
    PayerFactory(clinic=other_clinic, name="Blue Harbor")
    assert Payer.objects.filter(name__iexact="blue harbor").count() == 2


def test_a_coverage_is_recorded_and_audited(clinic, admissions):
    patient = PatientFactory(clinic=clinic, actor=admissions)
    payer = PayerFactory(clinic=clinic, actor=admissions)

    coverage = authorizations.coverage_create(
        actor=admissions,
        patient=patient,
        payer=payer,
        start_date=JAN_1,
        member_id=" M1 ",
        group_number="G7",
        subscriber_relation="spouse",
    )

    coverage.refresh_from_db()
    assert (coverage.clinic_id, coverage.member_id, coverage.priority, coverage.version) == (
        clinic.pk,
        "M1",
        "primary",
        1,
    )
    event = AuditEvent.objects.get(object_type="programs.coverage")
    assert (event.action, event.patient_id, event.clinic_id) == ("create", patient.pk, clinic.pk)


def test_a_payer_of_another_clinic_is_refused(clinic, other_clinic, admissions):
    patient = PatientFactory(clinic=clinic, actor=admissions)
    stranger = PayerFactory(clinic=other_clinic)
    with pytest.raises(ValidationError) as refused:
        authorizations.coverage_create(
            actor=admissions, patient=patient, payer=stranger, start_date=JAN_1
        )
    assert "payer" in refused.value.message_dict


def test_the_database_holds_payer_and_patient_to_the_coverage_s_clinic(
    clinic, other_clinic, admissions
):
    coverage = CoverageFactory(patient=PatientFactory(clinic=clinic), actor=admissions)
    stranger = PayerFactory(clinic=other_clinic)
    with pytest.raises(IntegrityError, match="coverage_payer_of_clinic"), transaction.atomic():
        Coverage.objects.filter(pk=coverage.pk).update(payer=stranger)
    with pytest.raises(IntegrityError, match="coverage_patient_of_clinic"), transaction.atomic():
        Coverage.objects.filter(pk=coverage.pk).update(clinic=other_clinic)


def test_two_primary_coverages_cannot_overlap_but_a_secondary_can(clinic, admissions):
    patient = PatientFactory(clinic=clinic, actor=admissions)
    CoverageFactory(patient=patient, start_date=JAN_1, end_date=datetime.date(2026, 6, 30))
    with (
        pytest.raises(IntegrityError, match="coverage_one_primary_at_a_time"),
        transaction.atomic(),
    ):
        CoverageFactory(patient=patient, start_date=datetime.date(2026, 6, 30))
    CoverageFactory(patient=patient, start_date=datetime.date(2026, 7, 1))
    CoverageFactory(patient=patient, start_date=JAN_1, priority="secondary")
    assert patient.coverages.count() == 3


def test_a_coverage_cannot_end_before_it_starts(clinic, admissions):
    coverage = CoverageFactory(patient=PatientFactory(clinic=clinic), start_date=JAN_1)
    with pytest.raises(ValidationError) as refused:
        authorizations.coverage_end(
            actor=admissions, coverage=coverage, end_date=datetime.date(2025, 12, 31)
        )
    assert "end_date" in refused.value.message_dict


def test_an_edit_against_a_stale_version_is_refused(clinic, admissions):
    coverage = CoverageFactory(patient=PatientFactory(clinic=clinic), start_date=JAN_1)
    ended = authorizations.coverage_end(
        actor=admissions,
        coverage=coverage,
        end_date=datetime.date(2026, 12, 31),
        expected_versions=[1],
    )
    assert (ended.end_date, ended.version) == (datetime.date(2026, 12, 31), 2)
    with pytest.raises(PreconditionFailed):
        authorizations.coverage_update(
            actor=admissions, coverage=coverage, expected_versions=[1], member_id="M2"
        )
    with pytest.raises(ValidationError) as refused:
        authorizations.coverage_update(actor=admissions, coverage=coverage, payer=None)
    assert "payer" in refused.value.message_dict
