"""A payer's authorization of an enrollment's care: requested, then approved, partially approved
or denied; its level kept apart from the clinical one; the database's refusals."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from clinic.errors import Conflict
from clinic.models import AuditEvent
from programs.models import Authorization, AuthorizationStatus
from programs.services import authorizations
from tests.factories import (
    AuthorizationFactory,
    CoverageFactory,
    EnrollmentFactory,
    PatientFactory,
    PayerFactory,
    ProgramFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def stay(clinic, admissions):
    """A residential stay from the clinic's today."""
    return EnrollmentFactory(program=ProgramFactory(clinic=clinic, level="residential"))


def test_a_request_keeps_the_payer_s_level_apart_from_the_clinical_one(stay, admissions):
    # given: the clinician keeps the patient in residential
    coverage = CoverageFactory(patient=stay.patient)

    # when: the payer is asked for IOP sessions
    authorization = authorizations.authorization_request(
        actor=admissions,
        enrollment=stay,
        coverage=coverage,
        authorized_level="iop",
        units_requested=12,
        start_date=stay.start_date,
        end_date=stay.start_date + datetime.timedelta(days=27),
        number=" A-1 ",
    )

    # then: both levels are there; the unit follows the payer's level
    authorization.refresh_from_db()
    assert (authorization.authorized_level, stay.level, authorization.unit) == (
        "iop",
        "residential",
        "sessions",
    )
    assert (authorization.status, authorization.number, authorization.payer_id) == (
        "requested",
        "A-1",
        coverage.payer_id,
    )
    assert AuditEvent.objects.filter(
        object_type="programs.authorization", action="create", patient_id=stay.patient_id
    ).exists()


def test_self_pay_needs_no_authorization(clinic, stay, admissions):
    coverage = CoverageFactory(
        patient=stay.patient, payer=PayerFactory(clinic=clinic, kind="self_pay")
    )
    with pytest.raises(Conflict) as refused:
        AuthorizationFactory(enrollment=stay, coverage=coverage)
    assert refused.value.code == "self_pay_needs_no_authorization"


def test_a_coverage_of_another_patient_or_outside_its_dates_is_refused(clinic, stay):
    other = CoverageFactory(patient=PatientFactory(clinic=clinic))
    with pytest.raises(ValidationError, match="not the enrolled patient"):
        AuthorizationFactory(enrollment=stay, coverage=other)
    late = CoverageFactory(patient=stay.patient, start_date=stay.start_date + datetime.timedelta(1))
    with pytest.raises(ValidationError, match="does not span"):
        AuthorizationFactory(enrollment=stay, coverage=late)


def test_days_are_for_residential_and_php_sessions_for_the_others(stay):
    coverage = CoverageFactory(patient=stay.patient)
    with pytest.raises(ValidationError) as refused:
        AuthorizationFactory(enrollment=stay, coverage=coverage, unit="sessions")
    assert "unit" in refused.value.message_dict
    authorization = AuthorizationFactory(enrollment=stay, coverage=coverage)
    with pytest.raises(IntegrityError, match="authorization_unit_fits_level"), transaction.atomic():
        Authorization.objects.filter(pk=authorization.pk).update(authorized_level="outpatient")


@pytest.mark.parametrize(
    ("decision", "units", "status", "approved"),
    [
        ("approved", None, "approved", 14),
        ("partially_approved", 7, "partially_approved", 7),
        ("denied", None, "denied", None),
    ],
)
def test_the_payer_decides_a_request(stay, admissions, decision, units, status, approved):
    authorization = AuthorizationFactory(enrollment=stay)

    decided = authorizations.authorization_decide(
        actor=admissions,
        authorization=authorization,
        decision=decision,
        units_approved=units,
        expected_versions=[1],
    )

    assert (decided.status, decided.units_approved, decided.version) == (status, approved, 2)
    with pytest.raises(Conflict) as refused:
        authorizations.authorization_decide(
            actor=admissions, authorization=decided, decision="approved"
        )
    assert refused.value.code == "invalid_state"


@pytest.mark.parametrize(
    ("decision", "units"),
    [
        ("approved", 10),  # fewer than asked is partial
        ("approved", 20),  # more than asked must be stated
        ("partially_approved", 14),
        ("partially_approved", None),
        ("denied", 3),
        ("exhausted", None),
    ],
)
def test_a_decision_that_does_not_add_up_is_refused(stay, admissions, decision, units):
    authorization = AuthorizationFactory(enrollment=stay)
    with pytest.raises(ValidationError):
        authorizations.authorization_decide(
            actor=admissions, authorization=authorization, decision=decision, units_approved=units
        )
    authorization.refresh_from_db()
    assert authorization.status == AuthorizationStatus.REQUESTED


def test_more_than_asked_is_kept_when_stated(stay, admissions):
    authorization = AuthorizationFactory(enrollment=stay)
    decided = authorizations.authorization_decide(
        actor=admissions,
        authorization=authorization,
        decision="approved",
        units_approved=20,
        approved_exceeds_request=True,
    )
    assert (decided.units_approved, decided.approved_exceeds_request) == (20, True)
    with (
        pytest.raises(IntegrityError, match="authorization_approved_within_request"),
        transaction.atomic(),
    ):
        Authorization.objects.filter(pk=decided.pk).update(approved_exceeds_request=False)


def test_two_authorizations_of_one_payer_in_force_cannot_overlap(stay, admissions):
    first = AuthorizationFactory(enrollment=stay, approved=True)
    overlapping = AuthorizationFactory(
        enrollment=stay, coverage=first.coverage, start_date=first.end_date
    )
    with (
        pytest.raises(IntegrityError, match="authorization_no_overlap_per_payer"),
        transaction.atomic(),
    ):
        authorizations.authorization_decide(
            actor=admissions, authorization=overlapping, decision="approved"
        )
    # the day after the end is free
    AuthorizationFactory(
        enrollment=stay,
        coverage=first.coverage,
        start_date=first.end_date + datetime.timedelta(days=1),
        approved=True,
    )


def test_the_database_refuses_what_the_services_never_write(stay):
    authorization = AuthorizationFactory(enrollment=stay)
    rows = Authorization.objects.filter(pk=authorization.pk)
    for update, constraint in [
        ({"end_date": stay.start_date - datetime.timedelta(days=1)}, "dates_ordered"),
        ({"units_approved": 3}, "approved_units_iff_approved"),
        ({"status": "approved"}, "approved_units_iff_approved"),
        ({"patient": PatientFactory(clinic=stay.program.clinic)}, "authorization_enrollment_of"),
        ({"payer": PayerFactory(clinic=stay.program.clinic)}, "coverage_of_patient_and_payer"),
    ]:
        with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
            rows.update(**update)
