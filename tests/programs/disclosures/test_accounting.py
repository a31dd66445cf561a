"""A covered disclosure is one accounting row (42 CFR §2.25) and one audit row, and the
database keeps the row as written."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction

from clinic.models import AuditAction, AuditEvent
from programs.models import Disclosure
from programs.services.disclosures import disclosure_create
from tests.factories import ConsentFactory, DisclosureFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(clinic, admissions, frozen_time):
    return PatientFactory(clinic=clinic, actor=admissions)


def test_a_covered_disclosure_is_recorded_with_what_was_sent_and_audited(
    clinician, patient, frozen_time
):
    consent = ConsentFactory(patient=patient, tpo=True)

    disclosure = disclosure_create(
        actor=clinician,
        patient=patient,
        recipient_name="  Harbor   Outpatient ",
        recipient_address="12 Elm St",
        purpose="treatment",
        categories=["aftercare", "demographics", "enrollments", "attendance", "measures"],
        window_start=datetime.date(2026, 11, 1),
        window_end=datetime.date(2026, 11, 30),
    )

    assert (disclosure.consent, disclosure.disclosed_by, disclosure.disclosed_at) == (
        consent,
        clinician,
        frozen_time,
    )
    assert disclosure.recipient_name == "Harbor Outpatient"
    # Categories in their one order.
    assert disclosure.categories == [
        "demographics",
        "enrollments",
        "attendance",
        "aftercare",
        "measures",
    ]
    assert disclosure.description == (
        "FHIR R4 Bundle: Patient, EpisodeOfCare, Appointment, CarePlan, Goal, "
        "QuestionnaireResponse, Observation, Consent"
    )
    audit = AuditEvent.objects.get(object_type="programs.disclosure")
    assert (audit.action, audit.actor, audit.patient_id, audit.object_id) == (
        AuditAction.CREATE,
        clinician,
        patient.pk,
        str(disclosure.pk),
    )


def test_the_newest_covering_consent_is_the_one_recorded(patient):
    ConsentFactory(patient=patient, signed_on=datetime.date(2024, 1, 15))
    newest = ConsentFactory(patient=patient, signed_on=datetime.date(2025, 1, 15))

    assert DisclosureFactory(patient=patient).consent == newest


@pytest.mark.parametrize(
    "statement",
    ["UPDATE {table} SET recipient_name = 'someone else'", "DELETE FROM {table}"],
)
def test_the_database_refuses_to_change_or_delete_an_accounting_row(patient, statement):
    ConsentFactory(patient=patient)
    DisclosureFactory(patient=patient)

    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement.format(table=Disclosure._meta.db_table))

    assert Disclosure.objects.get().recipient_name == "Harbor County Drug Court"


def test_a_disclosure_names_a_consent_of_its_own_patient(clinic, patient):
    other = PatientFactory(clinic=clinic)
    ConsentFactory(patient=patient)
    disclosure = DisclosureFactory(patient=patient)
    others_consent = ConsentFactory(patient=other)

    with pytest.raises(IntegrityError), transaction.atomic():
        Disclosure.objects.create(
            **{
                f.attname: getattr(disclosure, f.attname)
                for f in Disclosure._meta.concrete_fields
                if f.name != "id"
            }
            | {"consent_id": others_consent.pk}
        )
