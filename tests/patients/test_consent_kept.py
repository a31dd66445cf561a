"""A consent row is kept and its revocation stays as recorded, for every path into the database
(patients migration 0008): DELETE is refused, and so is clearing or rewriting a revocation."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from patients import services
from patients.models import Consent
from tests.factories import ConsentFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def consent(clinic, admissions, frozen_time):
    return ConsentFactory(patient=PatientFactory(clinic=clinic, actor=admissions))


def test_a_consent_is_never_deleted(consent):
    with pytest.raises(IntegrityError, match="consents are kept"), transaction.atomic():
        Consent.objects.filter(pk=consent.pk).delete()

    assert Consent.objects.filter(pk=consent.pk).exists()


@pytest.mark.parametrize(
    "change",
    [
        {"revoked_on": None, "revoked_at": None, "revoked_by": None},
        {"revoked_on": datetime.date(2026, 12, 1) + datetime.timedelta(days=3)},
    ],
    ids=["cleared", "redated"],
)
def test_a_recorded_revocation_is_kept_as_recorded(consent, admissions, change):
    services.consent_revoke(
        actor=admissions, consent=consent, revoked_on=datetime.date(2026, 12, 1)
    )

    with pytest.raises(IntegrityError, match="revocation is kept"), transaction.atomic():
        Consent.objects.filter(pk=consent.pk).update(**change)

    consent.refresh_from_db()
    assert consent.revoked_on == datetime.date(2026, 12, 1)
    assert consent.revoked_by == admissions


def test_a_consent_not_yet_revoked_can_be_revoked(consent, admissions):
    services.consent_revoke(
        actor=admissions, consent=consent, revoked_on=datetime.date(2026, 12, 1)
    )

    consent.refresh_from_db()
    assert consent.revoked_on == datetime.date(2026, 12, 1)


def test_a_consent_of_structured_elements_alone_is_recorded(clinic, admissions, frozen_time):
    # The form's free text (information, recipients, purpose) is optional: the elements decide.
    patient = PatientFactory(clinic=clinic, actor=admissions)

    consent = services.consent_record(
        actor=admissions,
        patient=patient,
        signed_on=datetime.date(2026, 11, 30),
        recipients_tpo=True,
        purposes=["treatment"],
        categories=["demographics", "enrollments"],
        revocation_how="In writing to the front desk, or in the app.",
        no_expiry=True,
        treatment_conditioned=False,
    )

    assert consent.missing_elements() == []
    assert (consent.information, consent.purpose) == ("", "")
