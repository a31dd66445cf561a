"""The consent form's §2.31 elements: a refusal per missing element (the service's messages), the
treatment/payment/operations consent without expiry, a minor's representative, and consents
recorded before the elements existed shown as permitting nothing."""

import datetime

import pytest
from django.utils.html import escape

from patients.models import CONSENT_ELEMENTS, Consent
from tests.factories import ConsentFactory, PatientFactory
from tests.patients.admin.helpers import CONSENTS, PATIENTS, consent_form, html, log_in

pytestmark = pytest.mark.django_db


def test_an_empty_consent_is_refused_with_a_message_per_missing_element(admissions_client, alvarez):
    response = admissions_client.post(
        f"{CONSENTS}add/",
        {"patient": str(alvarez.pk), "signed_on": "2024-01-15", "_save": "Save"},
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    for element in [
        "recipient_names",
        "purposes",
        "categories",
        "revocation_how",
        "expires_on",
        "treatment_conditioned",
    ]:
        assert errors[element] == [CONSENT_ELEMENTS[element]], element
        assert escape(CONSENT_ELEMENTS[element]) in html(response)
    assert not Consent.objects.exists()


def test_the_form_offers_every_element(admissions_client, alvarez):
    page = html(admissions_client.get(f"{CONSENTS}add/?patient={alvarez.pk}"))

    for name in [
        "discloser",
        "recipients_tpo",
        "recipient_names",
        "purposes",
        "purpose_other",
        "categories",
        "revocation_how",
        "expires_on",
        "expiry_event",
        "no_expiry",
        "signer_relation",
        "signer_name",
        "signed_on",
        "treatment_conditioned",
    ]:
        assert f'name="{name}"' in page, name
    # The right to revoke comes pre-filled with the clinic's wording.
    assert "stops future disclosures" in page


def test_an_other_purpose_needs_its_text(admissions_client, alvarez):
    response = admissions_client.post(f"{CONSENTS}add/", consent_form(alvarez, purpose_other=""))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["purpose_other"] == [
        CONSENT_ELEMENTS["purpose_other"]
    ]
    assert not Consent.objects.exists()


def test_named_recipients_purposes_and_categories_are_recorded(admissions_client, alvarez):
    response = admissions_client.post(
        f"{CONSENTS}add/",
        consent_form(
            alvarez,
            recipient_names="Harbor Outpatient Practice\n\n  Dr. Lena Ortiz ",
            purposes=["treatment", "patient_request"],
            purpose_other="",
            categories=["demographics", "enrollments", "aftercare"],
            treatment_conditioned="yes",
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    consent = Consent.objects.get()
    assert consent.recipient_names == ["Harbor Outpatient Practice", "Dr. Lena Ortiz"]
    assert consent.purposes == ["treatment", "patient_request"]
    assert consent.categories == ["demographics", "enrollments", "aftercare"]
    assert consent.treatment_conditioned is True
    assert consent.missing_elements() == []


def test_a_tpo_consent_may_have_no_expiry(admissions_client, alvarez):
    response = admissions_client.post(
        f"{CONSENTS}add/",
        consent_form(
            alvarez,
            recipient_names="",
            recipients_tpo="on",
            purposes=["treatment", "payment", "operations"],
            purpose_other="",
            expiry_event="",
            no_expiry="on",
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    consent = Consent.objects.get()
    assert (consent.recipients_tpo, consent.no_expiry) == (True, True)


def test_no_expiry_is_refused_for_named_recipients(admissions_client, alvarez):
    response = admissions_client.post(
        f"{CONSENTS}add/", consent_form(alvarez, expiry_event="", no_expiry="on")
    )

    assert response.status_code == 200
    assert "no_expiry" in response.context["adminform"].form.errors
    assert not Consent.objects.exists()


def test_a_minors_consent_without_a_representative_is_refused(
    admissions_client, admissions, clinic
):
    minor = PatientFactory(clinic=clinic, actor=admissions, date_of_birth=datetime.date(2009, 6, 1))

    refused = admissions_client.post(f"{CONSENTS}add/", consent_form(minor))
    unnamed = admissions_client.post(
        f"{CONSENTS}add/", consent_form(minor, signer_relation="mother")
    )
    signed = admissions_client.post(
        f"{CONSENTS}add/", consent_form(minor, signer_relation="mother", signer_name="Ana Ruiz")
    )

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["signer_relation"] == [
        CONSENT_ELEMENTS["signer_relation"]
    ]
    assert unnamed.status_code == 200
    assert unnamed.context["adminform"].form.errors["signer_name"] == [
        CONSENT_ELEMENTS["signer_name"]
    ]
    assert signed.status_code == 302
    consent = Consent.objects.get()
    assert (consent.signer_relation, consent.signer_name) == ("mother", "Ana Ruiz")


def migrated_consent(patient, actor):
    """A consent recorded before the §2.31 elements existed (as migration 0007 leaves it)."""
    return Consent.objects.create(
        patient=patient,
        discloser="Riverside Program",
        information="Attendance",
        recipients="Harbor County Drug Court",
        purpose="Compliance reporting",
        signed_on=datetime.date(2024, 1, 15),
        expiry_event="End of probation",
        recorded_by=actor,
    )


def test_a_migrated_consent_shows_as_permitting_nothing_with_what_is_missing(
    admissions_client, admissions, alvarez
):
    consent = migrated_consent(alvarez, admissions)

    page = html(admissions_client.get(f"{CONSENTS}{consent.pk}/change/"))
    listing = html(admissions_client.get(CONSENTS))
    patient_page = html(admissions_client.get(f"{PATIENTS}{alvarez.pk}/change/"))

    for text in (page, listing, patient_page):
        assert "incomplete: permits nothing" in text
    for element in ("recipient_names", "purposes", "categories", "treatment_conditioned"):
        assert escape(CONSENT_ELEMENTS[element]) in page


def test_the_patient_page_names_each_consents_state(admissions_client, admissions, alvarez):
    ConsentFactory(patient=alvarez, actor=admissions, recipients="Active Court")
    expired = ConsentFactory(
        patient=alvarez,
        actor=admissions,
        recipients="Old Court",
        expiry_event="",
        expires_on=datetime.date(2024, 3, 1),
    )
    revoked = ConsentFactory(patient=alvarez, actor=admissions, recipients="Revoked Court")
    admissions_client.post(
        f"{CONSENTS}{revoked.pk}/change/", {"revoked_on": "2024-06-01", "_save": "Save"}
    )

    page = html(admissions_client.get(f"{PATIENTS}{alvarez.pk}/change/"))

    assert "revoked on 2024-06-01" in page
    assert expired.expires_on.isoformat() in page
    assert "expired" in page
    assert "active" in page


def test_a_supervisor_reads_consents_but_cannot_record_one(client, supervisor, admissions, alvarez):
    consent = ConsentFactory(patient=alvarez, actor=admissions)
    log_in(client, supervisor)

    assert client.get(f"{CONSENTS}{consent.pk}/change/").status_code == 200
    response = client.post(f"{CONSENTS}add/", consent_form(alvarez))

    assert response.status_code == 403
    assert Consent.objects.count() == 1
