"""``disclosure_create`` refuses what no consent covers, with 409 ``no_consent`` naming what is
missing, and then writes nothing: no accounting row, no audit row."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from clinic.errors import Conflict
from clinic.models import AuditEvent
from patients import services as patient_services
from patients.models import Consent
from programs.models import Disclosure
from programs.services.disclosures import disclosure_create
from tests.factories import ConsentFactory, EnrollmentFactory, PatientFactory, ProgramFactory

pytestmark = pytest.mark.django_db

REQUEST = {
    "recipient_name": "Harbor County Drug Court",
    "recipient_address": "1 Court Plaza",
    "purpose": "other",
    "purpose_other": "Compliance reporting",
    "categories": ["attendance"],
}


@pytest.fixture
def patient(clinic, admissions, frozen_time):
    return PatientFactory(clinic=clinic, actor=admissions)


def refusal(clinician, patient, **changes) -> list[str]:
    """What is missing, per the 409; and nothing was written."""
    disclosures, audits = Disclosure.objects.count(), AuditEvent.objects.count()
    with pytest.raises(Conflict) as refused:
        disclosure_create(actor=clinician, patient=patient, **{**REQUEST, **changes})
    assert refused.value.code == "no_consent"
    assert (Disclosure.objects.count(), AuditEvent.objects.count()) == (disclosures, audits)
    return refused.value.extra["missing"]


def test_without_a_consent_nothing_is_disclosed(clinician, patient):
    assert refusal(clinician, patient) == ["no consent on file"]


def test_an_expired_consent_permits_nothing(clinician, patient):
    ConsentFactory(patient=patient, expiry_event="", expires_on=datetime.date(2026, 11, 30))

    assert refusal(clinician, patient) == ["expired on 2026-11-30"]


def test_a_consent_revoked_between_two_disclosures_permits_the_first_only(
    clinician, admissions, patient
):
    consent = ConsentFactory(patient=patient)
    first = disclosure_create(actor=clinician, patient=patient, **REQUEST)

    patient_services.consent_revoke(actor=admissions, consent=consent)

    assert first.consent == consent
    assert refusal(clinician, patient) == ["revoked on 2026-12-01"]
    assert Disclosure.objects.get() == first


def test_a_category_the_consent_does_not_cover_is_named(clinician, patient):
    ConsentFactory(patient=patient)

    assert refusal(clinician, patient, categories=["attendance", "enrollments"]) == [
        "category not covered: enrollments"
    ]


def test_a_recipient_the_consent_does_not_name_is_named(clinician, patient):
    ConsentFactory(patient=patient)

    assert refusal(clinician, patient, recipient_name="Harbor Tribune") == [
        "recipient not named: Harbor Tribune"
    ]


def test_a_minors_consent_without_a_representative_permits_nothing(clinic, clinician, frozen_time):
    minor = PatientFactory(clinic=clinic, date_of_birth=datetime.date(2010, 3, 1))
    # Recorded before the elements existed a form could hold it: the row migrates as it was.
    consent = ConsentFactory(
        patient=minor,
        signer_relation="parent",
        signer_name="Ana Diaz",
        signed_on=datetime.date(2026, 1, 5),
    )
    Consent.objects.filter(pk=consent.pk).update(signer_relation="", signer_name="")

    missing = refusal(clinician, minor)

    assert missing == [
        "incomplete: A minor's consent needs the signature of a parent, guardian or other "
        "representative."
    ]


def test_recording_a_minors_consent_without_a_representative_is_refused(
    clinic, admissions, frozen_time
):
    minor = PatientFactory(clinic=clinic, date_of_birth=datetime.date(2010, 3, 1))

    with pytest.raises(ValidationError) as refused:
        ConsentFactory(patient=minor, signed_on=datetime.date(2026, 1, 5))

    assert set(refused.value.message_dict) == {"signer_relation"}


def test_a_purpose_the_consent_does_not_list_is_named(clinician, patient):
    ConsentFactory(patient=patient)

    assert refusal(clinician, patient, purpose="payment", purpose_other="") == [
        "purpose not listed: payment"
    ]


def test_an_end_of_treatment_consent_lapses_once_treatment_has_ended(
    clinic, clinician, admissions, frozen_time
):
    program = ProgramFactory(clinic=clinic, outpatient=True)
    stay = EnrollmentFactory(
        program=program,
        start_date=datetime.date(2026, 11, 2),
        discharged=True,
        discharge_date=datetime.date(2026, 11, 20),
    )
    ConsentFactory(patient=stay.patient, expiry_event="End of treatment")

    assert refusal(clinician, stay.patient) == ["expired at the end of treatment"]


def test_the_closest_consent_is_the_one_named(clinician, patient):
    ConsentFactory(patient=patient, categories=["demographics"])
    closest = ConsentFactory(patient=patient, categories=["attendance", "aftercare"])

    with pytest.raises(Conflict) as refused:
        disclosure_create(
            actor=clinician,
            patient=patient,
            **{**REQUEST, "categories": ["attendance", "enrollments"]},
        )

    assert refused.value.extra == {
        "missing": ["category not covered: enrollments"],
        "consent": closest.pk,
    }


def test_supervisors_do_not_disclose(supervisor, patient):
    ConsentFactory(patient=patient)

    with pytest.raises(PermissionDenied):
        disclosure_create(actor=supervisor, patient=patient, **REQUEST)


def test_a_consent_naming_a_program_permits_that_programs_disclosures_only(
    clinic, clinician, frozen_time
):
    iop, php = ProgramFactory(clinic=clinic, iop=True), ProgramFactory(clinic=clinic, php=True)
    stay = EnrollmentFactory(program=iop, start_date=datetime.date(2026, 11, 2))
    ConsentFactory(patient=stay.patient, discloser_program_id=php.pk)

    assert refusal(clinician, stay.patient, enrollment=stay) == [
        f"only {php.name} may disclose under it"
    ]


def test_a_consent_naming_another_clinics_program_permits_nothing(clinician, patient):
    ConsentFactory(patient=patient, discloser_program_id=ProgramFactory().pk)

    assert refusal(clinician, patient) == ["the program named as discloser is not this clinic's"]


def test_the_enrollment_that_prompted_it_must_be_the_patients(clinic, clinician, patient):
    ConsentFactory(patient=patient)
    someone_elses = EnrollmentFactory(program=ProgramFactory(clinic=clinic))

    with pytest.raises(ValidationError) as refused:
        disclosure_create(actor=clinician, patient=patient, enrollment=someone_elses, **REQUEST)

    assert set(refused.value.message_dict) == {"enrollment"}
