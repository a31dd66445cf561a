"""Part 2 consents in the admin: expiry, revocation, the services' messages, audit rows."""

import datetime

import pytest
from django.utils.html import escape

from clinic.models import AuditAction
from patients import services
from patients.models import CONSENT_ELEMENTS, Consent
from tests.factories import ConsentFactory
from tests.patients.admin.helpers import CONSENTS, audit_rows, consent_form, html

pytestmark = pytest.mark.django_db


# 7. Consents --------------------------------------------------------------------------------------


def test_a_consent_without_expiry_is_refused_with_the_services_message(admissions_client, alvarez):
    response = admissions_client.post(
        f"{CONSENTS}add/", consent_form(alvarez, expires_on="", expiry_event="")
    )

    assert response.status_code == 200
    assert escape(CONSENT_ELEMENTS["expires_on"]) in html(response)
    assert not Consent.objects.exists()


def test_a_consent_with_an_expiry_event_is_recorded(admissions_client, admissions, alvarez):
    response = admissions_client.post(
        f"{CONSENTS}add/", consent_form(alvarez, expires_on="", expiry_event="End of probation")
    )

    assert response.status_code == 302
    consent = Consent.objects.get()
    assert (consent.patient, consent.recorded_by) == (alvarez, admissions)
    assert consent.expiry_event == "End of probation"
    assert audit_rows(AuditAction.CREATE, object_type="patients.consent").count() == 1


def test_revoking_a_consent_on_its_change_page_sets_revoked_on(
    admissions_client, admissions, alvarez
):
    consent = ConsentFactory(patient=alvarez, actor=admissions)

    response = admissions_client.post(
        f"{CONSENTS}{consent.pk}/change/", {"revoked_on": "2024-06-01", "_save": "Save"}
    )

    assert response.status_code == 302
    consent.refresh_from_db()
    assert consent.revoked_on == datetime.date(2024, 6, 1)
    assert consent.revoked_by == admissions
    assert audit_rows(AuditAction.UPDATE, object_type="patients.consent").count() == 1


def test_a_revocation_before_signing_is_refused_with_the_services_message(
    admissions_client, admissions, alvarez
):
    consent = ConsentFactory(patient=alvarez, actor=admissions)

    response = admissions_client.post(
        f"{CONSENTS}{consent.pk}/change/", {"revoked_on": "2023-12-31", "_save": "Save"}
    )

    assert response.status_code == 200
    assert "A consent cannot be revoked before it is signed." in html(response)
    consent.refresh_from_db()
    assert consent.revoked_on is None


def test_saving_an_already_revoked_consent_again_is_refused_not_a_server_error(
    admissions_client, admissions, alvarez
):
    consent = ConsentFactory(patient=alvarez, actor=admissions)
    services.consent_revoke(actor=admissions, consent=consent, revoked_on=datetime.date(2024, 6, 1))
    url = f"{CONSENTS}{consent.pk}/change/"
    assert 'name="revoked_on"' not in html(admissions_client.get(url))

    # The page still offers "Save"; pressing it must not fail with a server error.
    response = admissions_client.post(url, {"_save": "Save"})

    assert response.status_code in (200, 302, 403)
    consent.refresh_from_db()
    assert consent.revoked_on == datetime.date(2024, 6, 1)


def test_autocomplete_answers_are_audited_as_a_list(admissions_client, alvarez):
    before = audit_rows(AuditAction.LIST, patient_id=alvarez.pk).count()

    response = admissions_client.get(
        "/admin/autocomplete/?app_label=patients&model_name=assessment&field_name=patient"
        f"&term={alvarez.last_name}"
    )

    assert response.status_code == 200
    assert audit_rows(AuditAction.LIST, patient_id=alvarez.pk).count() == before + 1


def test_opening_a_consent_writes_a_read_audit_row(admissions_client, admissions, alvarez):
    consent = ConsentFactory(patient=alvarez, actor=admissions)

    admissions_client.get(f"{CONSENTS}{consent.pk}/change/")

    row = audit_rows(AuditAction.READ, patient_id=alvarez.pk).get()
    assert row.object_type == "patients.consent"
