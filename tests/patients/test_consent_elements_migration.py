"""patients 0007: a consent recorded before the §2.31 elements keeps its row and text, gets the
elements empty, and so permits nothing until a complete one is signed."""

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from patients.models import Consent

pytestmark = pytest.mark.django_db

BEFORE = [("patients", "0006_record_version"), ("programs", "0014_record_version")]
AFTER = [("patients", "0007_consent_elements"), ("programs", "0015_disclosures")]


def test_an_old_consent_migrates_with_its_elements_empty(clinic, admissions):
    # The clinic's referral sources (seeded when it was made) hold deferred foreign-key checks
    # that would stop migrating back past the table they live in: run the checks now.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old_apps = executor.loader.project_state(BEFORE).apps
    OldPatient = old_apps.get_model("patients", "Patient")
    OldConsent = old_apps.get_model("patients", "Consent")
    patient = OldPatient.objects.create(
        clinic_id=clinic.pk,
        mrn="0000099",
        first_name="Ana",
        last_name="Diaz",
        date_of_birth=datetime.date(1980, 5, 1),
    )
    old = OldConsent.objects.create(
        patient=patient,
        discloser="Riverside",
        information="Attendance",
        recipients="Harbor County Drug Court",
        purpose="Compliance reporting",
        expiry_event="End of probation",
        signed_on=datetime.date(2024, 1, 15),
        recorded_by_id=admissions.pk,
    )

    with connection.cursor() as cursor:  # the rows' deferred foreign-key checks, before DDL
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    # On to the latest migrations, so that today's models read the rows.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    consent = Consent.objects.select_related("patient").get(pk=old.pk)
    assert (consent.recipients, consent.purpose, consent.expiry_event) == (
        "Harbor County Drug Court",
        "Compliance reporting",
        "End of probation",
    )
    assert (consent.recipient_names, consent.purposes, consent.categories) == ([], [], [])
    assert consent.treatment_conditioned is None
    assert "recipient_names" in consent.missing_elements()
    assert consent.covers(
        recipient="Harbor County Drug Court",
        purpose="other",
        categories=["attendance"],
        on=datetime.date(2024, 2, 1),
    )
