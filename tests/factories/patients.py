"""Patients, their contacts and their consents, registered through the patients services (MRN,
validation and audit row as the product makes them)."""

import datetime

import factory

from patients import services as patient_services
from patients.models import Consent, DisclosureCategory, Patient, PatientContact
from tests.factories.clinic import ClinicFactory, staff_user


def _admissions_of(clinic):
    return staff_user(role="admissions", clinics=[clinic])


class PatientFactory(factory.django.DjangoModelFactory):
    """``PatientFactory(clinic=clinic, actor=admissions)``; without ``actor`` an admissions
    member of the clinic registers the patient. Trait ``reachable``: an e-mail address and a
    phone number, reminders by both."""

    class Meta:
        model = Patient

    clinic = factory.SubFactory(ClinicFactory)
    first_name = factory.Sequence(lambda n: f"Pat{n}")
    last_name = "Lee"
    # Distinct birth dates keep the duplicate check out of tests that make many patients.
    date_of_birth = factory.Sequence(
        lambda n: datetime.date(1980, 1, 1) + datetime.timedelta(days=n)
    )
    email = ""
    phone = ""
    reminder_channels = factory.LazyFunction(list)

    class Params:
        reachable = factory.Trait(
            email=factory.LazyAttribute(lambda p: f"{p.first_name.lower()}@example.org"),
            phone=factory.Sequence(lambda n: f"+1202555{n % 10000:04d}"),
            reminder_channels=factory.LazyFunction(lambda: ["email", "sms"]),
        )

    @classmethod
    def _create(cls, model_class, *, actor=None, **fields):
        return patient_services.patient_create(
            actor=actor or _admissions_of(fields["clinic"]), **fields
        )


class ContactFactory(factory.django.DjangoModelFactory):
    """An emergency contact of a patient, added through ``contact_create``."""

    class Meta:
        model = PatientContact

    patient = factory.SubFactory(PatientFactory)
    kind = "emergency"
    name = "Sam Lee"
    relationship = "sibling"
    phone = "+12025550199"
    email = ""

    @classmethod
    def _create(cls, model_class, *, actor=None, **fields):
        return patient_services.contact_create(
            actor=actor or _admissions_of(fields["patient"].clinic), **fields
        )


class ConsentFactory(factory.django.DjangoModelFactory):
    """A 42 CFR Part 2 consent to a disclosure, recorded through ``consent_record``."""

    class Meta:
        model = Consent

    patient = factory.SubFactory(PatientFactory)
    information = "Attendance and toxicology results"
    recipients = "Harbor County Drug Court"
    purpose = "Compliance reporting to the court"
    signed_on = datetime.date(2024, 1, 15)
    expiry_event = "End of probation"
    # The §2.31 elements: complete, so the consent permits what it names.
    recipient_names = factory.LazyAttribute(lambda o: [o.recipients])
    purposes = factory.LazyFunction(lambda: ["other"])
    purpose_other = factory.LazyAttribute(lambda o: o.purpose)
    categories = factory.LazyFunction(lambda: ["attendance"])
    revocation_how = "In writing to the clinic's privacy officer, at any time."
    treatment_conditioned = False

    class Params:
        # The single treatment/payment/operations class, for every category, no expiry.
        tpo = factory.Trait(
            recipients="My treating providers, health plans and payers",
            recipient_names=factory.LazyFunction(list),
            recipients_tpo=True,
            purposes=factory.LazyFunction(lambda: ["treatment", "payment", "operations"]),
            purpose_other="",
            purpose="Treatment, payment and health-care operations",
            # Every category a consent may combine: psychotherapy notes need one of their own.
            categories=factory.LazyFunction(
                lambda: [
                    c
                    for c in DisclosureCategory.values
                    if c != DisclosureCategory.PSYCHOTHERAPY_NOTES
                ]
            ),
            expiry_event="",
            no_expiry=True,
        )

    @classmethod
    def _create(cls, model_class, *, actor=None, **fields):
        return patient_services.consent_record(
            actor=actor or _admissions_of(fields["patient"].clinic), **fields
        )
