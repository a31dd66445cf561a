"""Sending to the next provider from an enrollment or a transition (programs.admin.disclosures):
what the page preselects and previews, a disclosure sent, each refusal shown with the service's
message and nothing written, and who may send."""

import datetime

import pytest

from clinic.models import AuditAction
from patients import services as patient_services
from programs.models import Disclosure
from programs.services import enrollments as services
from tests.factories import ConsentFactory, PatientFactory
from tests.programs.admin.helpers import (
    ENROLLMENTS,
    TRANSITIONS,
    audit_rows,
    change_url,
    html,
    log_in,
    message_texts,
)

pytestmark = pytest.mark.django_db

PRACTICE = "Harbor Outpatient Practice"


def disclose_url(enrollment) -> str:
    return f"{ENROLLMENTS}{enrollment.pk}/disclose/"


def hand_off_consent(patient, actor, **overrides):
    """A consent to send demographics, enrollments and attendance to the practice, for care."""
    fields = {
        "recipients": PRACTICE,
        "purposes": ["treatment"],
        "purpose_other": "",
        "purpose": "Continuing care",
        "categories": ["demographics", "enrollments", "attendance"],
    }
    return ConsentFactory(patient=patient, actor=actor, **{**fields, **overrides})


def send_form(enrollment, **overrides):
    data = {
        "recipient_name": PRACTICE,
        "recipient_address": "12 Harbor Road, Springfield",
        "purpose": "treatment",
        "purpose_other": "",
        "categories": ["demographics", "enrollments"],
        "window_start": enrollment.start_date.isoformat(),
        "window_end": enrollment.program.clinic.today().isoformat(),
        "transition": "",
    }
    data.update(overrides)
    return data


def nothing_disclosed():
    assert not Disclosure.objects.exists()
    assert not audit_rows(AuditAction.CREATE, object_type="programs.disclosure").exists()


@pytest.fixture
def consent(admissions, alvarez):
    return hand_off_consent(alvarez, admissions)


# The page -----------------------------------------------------------------------------------------


def test_the_page_preselects_the_consents_recipient_and_categories_and_names_what_is_left_out(
    admissions_client, stay, consent
):
    response = admissions_client.get(disclose_url(stay))

    assert response.status_code == 200
    form = response.context["form"]
    assert form["recipient_name"].value() == PRACTICE
    assert form["categories"].value() == ["demographics", "enrollments", "attendance"]
    assert form["purpose"].value() == "treatment"
    page = html(response)
    assert "does not cover Assessments, Aftercare plan, Measures" in page
    assert f"Covered by the consent signed on {consent.signed_on}." in page
    assert f'<option value="{PRACTICE}">' in page  # the named recipients to pick from
    nothing_disclosed()


def test_checking_shows_what_the_consent_does_not_cover_and_writes_nothing(
    admissions_client, stay, consent
):
    response = admissions_client.post(
        disclose_url(stay),
        {**send_form(stay, categories=["enrollments", "assessments"]), "_check": "Check"},
    )

    assert response.status_code == 200
    assert "category not covered: assessments" in html(response)
    nothing_disclosed()


def test_checking_a_covered_disclosure_says_so_and_sends_nothing(admissions_client, stay, consent):
    response = admissions_client.post(disclose_url(stay), {**send_form(stay), "_check": "Check"})

    assert response.status_code == 200
    assert "Covered by the consent signed on" in html(response)
    nothing_disclosed()


def test_without_a_consent_the_page_says_to_record_one(admissions_client, stay):
    page = html(admissions_client.get(disclose_url(stay)))

    assert "No complete, active consent on file" in page
    assert f"/admin/patients/consent/add/?patient={stay.patient_id}" in page


# Sending ------------------------------------------------------------------------------------------


def test_sending_records_the_disclosure_and_links_its_bundle(
    admissions_client, admissions, stay, consent
):
    response = admissions_client.post(disclose_url(stay), send_form(stay))

    disclosure = Disclosure.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/programs/disclosure/{disclosure.pk}/change/"
    assert (disclosure.patient, disclosure.consent, disclosure.enrollment) == (
        stay.patient,
        consent,
        stay,
    )
    assert (disclosure.recipient_name, disclosure.disclosed_by) == (PRACTICE, admissions)
    assert disclosure.categories == ["demographics", "enrollments"]
    assert disclosure.recipient_address == "12 Harbor Road, Springfield"
    assert audit_rows(AuditAction.CREATE, object_type="programs.disclosure").count() == 1
    [(level, text)] = message_texts(response)
    assert level == "success"
    assert f"/admin/programs/disclosure/{disclosure.pk}/bundle/" in text


def test_a_typed_recipient_covered_by_the_tpo_class_is_sent(admissions_client, admissions, stay):
    ConsentFactory(patient=stay.patient, actor=admissions, tpo=True)

    response = admissions_client.post(
        disclose_url(stay), send_form(stay, recipient_name="Dr. Lena Ortiz, primary care")
    )

    assert response.status_code == 302
    assert Disclosure.objects.get().recipient_name == "Dr. Lena Ortiz, primary care"


def test_the_page_goes_back_where_it_was_opened(admissions_client, stay, consent):
    patient_page = f"/admin/patients/patient/{stay.patient_id}/change/"

    response = admissions_client.post(
        f"{disclose_url(stay)}?next={patient_page}", {**send_form(stay), "next": patient_page}
    )

    assert response.status_code == 302
    assert response["Location"] == patient_page


# Refusals: the service's message, nothing written -------------------------------------------------


def _revoke(consent, actor):
    patient_services.consent_revoke(
        actor=actor, consent=consent, revoked_on=consent.patient.clinic.today()
    )


REFUSALS = {
    "no consent": ({}, None, "no consent on file"),
    "recipient not named": (
        {"recipient_name": "Sunrise Sober Living"},
        "consent",
        "recipient not named",
    ),
    "category not covered": (
        {"categories": ["aftercare"]},
        "consent",
        "category not covered: aftercare",
    ),
    "purpose not listed": ({"purpose": "payment"}, "consent", "purpose not listed: payment"),
    "revoked": ({}, "revoked", "revoked on"),
    "expired": ({}, "expired", "expired on 2024-03-01"),
}


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_a_disclosure_no_consent_covers_is_refused_with_the_services_message(
    admissions_client, admissions, stay, case
):
    overrides, consent_kind, missing = REFUSALS[case]
    if consent_kind == "expired":
        hand_off_consent(
            stay.patient,
            admissions,
            expiry_event="",
            expires_on=datetime.date(2024, 3, 1),
        )
    elif consent_kind is not None:
        consent = hand_off_consent(stay.patient, admissions)
        if consent_kind == "revoked":
            _revoke(consent, admissions)

    response = admissions_client.post(disclose_url(stay), send_form(stay, **overrides))

    assert response.status_code == 200
    page = html(response)
    assert "No consent on file permits this disclosure" in page
    assert missing in page
    nothing_disclosed()


def test_a_consent_revoked_between_two_disclosures_refuses_the_second(
    admissions_client, admissions, stay, consent
):
    assert admissions_client.post(disclose_url(stay), send_form(stay)).status_code == 302
    _revoke(consent, admissions)

    response = admissions_client.post(disclose_url(stay), send_form(stay))

    assert response.status_code == 200
    assert "revoked on" in html(response)
    assert Disclosure.objects.count() == 1


def test_an_other_purpose_without_its_text_is_refused_on_the_field(
    admissions_client, stay, consent
):
    response = admissions_client.post(disclose_url(stay), send_form(stay, purpose="other"))

    assert response.status_code == 200
    assert response.context["form"].errors["purpose_other"] == ["Describe the other purpose."]
    nothing_disclosed()


# Transitions and discharges -----------------------------------------------------------------------


@pytest.fixture
def step_down(clinician, stay, iop):
    return services.transition_create(
        actor=clinician,
        enrollment=stay,
        to_program=iop,
        date=stay.program.clinic.today(),
        kind="step_down",
        reason="Stable; ready for evening IOP.",
    )


def test_a_transition_offers_sending_and_the_disclosure_names_it(
    clinician_client, admissions, stay, step_down, alvarez
):
    hand_off_consent(alvarez, admissions)
    link = f"{disclose_url(stay)}?transition={step_down.pk}"
    assert link in html(clinician_client.get(f"{TRANSITIONS}{step_down.pk}/change/"))
    page = clinician_client.get(link)
    assert page.context["form"]["transition"].value() == step_down.pk

    response = clinician_client.post(link, send_form(stay, transition=str(step_down.pk)))

    assert response.status_code == 302
    disclosure = Disclosure.objects.get()
    assert (disclosure.transition, disclosure.enrollment) == (step_down, stay)


def test_a_discharged_enrollment_offers_sending(admissions_client, admissions, stay, consent):
    services.enrollment_discharge(
        actor=admissions, enrollment=stay, date=stay.program.clinic.today(), reason="completed"
    )

    page = html(admissions_client.get(change_url(stay)))

    assert disclose_url(stay) in page
    assert admissions_client.post(disclose_url(stay), send_form(stay)).status_code == 302


# Roles and clinics --------------------------------------------------------------------------------


def test_a_supervisor_may_not_send(client, supervisor, stay, step_down, consent):
    log_in(client, supervisor)

    assert disclose_url(stay) not in html(client.get(change_url(stay)))
    assert "Send to the next provider" not in html(
        client.get(f"{TRANSITIONS}{step_down.pk}/change/")
    )
    assert client.get(disclose_url(stay)).status_code == 403
    assert client.post(disclose_url(stay), send_form(stay)).status_code == 403
    nothing_disclosed()


def test_another_clinics_enrollment_cannot_be_disclosed(admissions_client, stranger_stay):
    ConsentFactory(patient=stranger_stay.patient, tpo=True)

    response = admissions_client.post(disclose_url(stranger_stay), send_form(stranger_stay))

    assert response.status_code == 302  # the admin's "does not exist" redirect
    nothing_disclosed()


def test_a_minors_consent_without_a_representative_permits_nothing(
    admissions_client, admissions, clinic, residential
):
    # Recorded before the elements existed: the form cannot record one now.
    minor = PatientFactory(clinic=clinic, actor=admissions, date_of_birth=datetime.date(2010, 1, 1))
    consent = hand_off_consent(minor, admissions, signer_relation="mother", signer_name="Ana Ruiz")
    type(consent).objects.filter(pk=consent.pk).update(signer_relation="", signer_name="")
    stay = services.enrollment_create(
        actor=admissions, patient=minor, program=residential, start_date=clinic.today()
    )

    response = admissions_client.post(disclose_url(stay), send_form(stay))

    assert response.status_code == 200
    assert "A minor&#x27;s consent needs the signature" in html(response)
    nothing_disclosed()


def test_the_consent_form_offers_the_clinics_programs_as_who_discloses(
    admissions_client, alvarez, residential, stranger_stay
):
    page = html(admissions_client.get(f"/admin/patients/consent/add/?patient={alvarez.pk}"))
    assert residential.name in page
    assert stranger_stay.program.name not in page

    response = admissions_client.post(
        "/admin/patients/consent/add/",
        {
            "patient": str(alvarez.pk),
            "discloser_program_id": str(residential.pk),
            "recipient_names": PRACTICE,
            "purposes": ["treatment"],
            "categories": ["attendance"],
            "revocation_how": "In writing, at any time.",
            "signed_on": "2024-01-15",
            "expiry_event": "end_of_treatment",
            "treatment_conditioned": "no",
            "_save": "Save",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    consent = alvarez.consents.get()
    assert consent.discloser_program_id == residential.pk
    assert consent.discloser.startswith(residential.name)
