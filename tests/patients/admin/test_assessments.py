"""Assessments in the admin: the recommendation beside the decision, a reason to differ, read-only
once decided."""

import pytest
from django.utils.html import escape

from clinic.models import AuditAction
from patients import services
from patients.models import Assessment
from tests.patients.admin.helpers import ASSESSMENTS, RESIDENTIAL, audit_rows, html

pytestmark = pytest.mark.django_db


# 5. Assessments -----------------------------------------------------------------------------------


def test_adding_an_assessment_stores_the_recommendation(clinician_client, clinician, alvarez):
    response = clinician_client.post(
        f"{ASSESSMENTS}add/",
        {
            "patient": alvarez.pk,
            "criteria_count": "7",
            "severity": "",
            **RESIDENTIAL,
            "prior_outpatient_relapse": "on",
            "co_occurring": ["depression"],
            "notes": "Intake interview.",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    assessment = Assessment.objects.get()
    assert assessment.patient == alvarez
    assert assessment.assessed_by == clinician
    assert assessment.severity == "severe"
    assert assessment.dimensions == RESIDENTIAL
    assert assessment.prior_outpatient_relapse is True
    assert assessment.co_occurring == ["depression"]
    assert assessment.recommended_level == "residential"
    assert any("Withdrawal risk is high" in sentence for sentence in assessment.rationale)
    assert assessment.decided_level == ""
    assert audit_rows(AuditAction.CREATE, object_type="patients.assessment").count() == 1


def test_assessment_add_form_shows_the_services_message(clinician_client, alvarez):
    response = clinician_client.post(
        f"{ASSESSMENTS}add/",
        {"patient": alvarez.pk, "criteria_count": "2", "severity": "severe", **RESIDENTIAL},
    )

    assert response.status_code == 200
    assert "2 criteria met means mild, not severe." in html(response)
    assert not Assessment.objects.exists()


def test_assessment_page_shows_the_recommendation_beside_the_decision(clinician_client, assessment):
    response = clinician_client.get(f"{ASSESSMENTS}{assessment.pk}/change/")

    assert response.status_code == 200
    page = html(response)
    assert len(assessment.rationale) >= 3
    for sentence in assessment.rationale:
        assert escape(sentence) in page, sentence
    assert "Residential" in page
    # The recommendation is read-only; the decision is a form.
    assert 'name="recommended_level"' not in page
    assert 'name="decided_level"' in page
    assert 'name="override_reason"' in page
    assert page.index(escape(assessment.rationale[0])) < page.index('name="decided_level"')


def test_a_decision_against_the_recommendation_needs_a_reason(clinician_client, assessment):
    url = f"{ASSESSMENTS}{assessment.pk}/change/"

    response = clinician_client.post(
        url, {"decided_level": "php", "decided_track": "", "override_reason": "", "_save": "Save"}
    )

    assert response.status_code == 200
    assert "The decision differs from the recommendation (residential); give the reason." in html(
        response
    )
    assessment.refresh_from_db()
    assert assessment.decided_level == ""
    assert assessment.decided_by is None
    assert not audit_rows(AuditAction.UPDATE).exists()


def test_a_decision_with_a_reason_is_stored(clinician_client, clinician, assessment):
    response = clinician_client.post(
        f"{ASSESSMENTS}{assessment.pk}/change/",
        {
            "decided_level": "php",
            "decided_track": "",
            "override_reason": "Declines residential care; strong family support.",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    assessment.refresh_from_db()
    assert assessment.decided_level == "php"
    assert assessment.decided_by == clinician
    assert assessment.decided_at is not None
    assert assessment.override_reason == "Declines residential care; strong family support."
    assert audit_rows(AuditAction.UPDATE, object_type="patients.assessment").count() == 1


def test_a_decided_assessment_is_read_only(clinician_client, clinician, assessment):
    services.assessment_decide(actor=clinician, assessment=assessment, decided_level="residential")
    url = f"{ASSESSMENTS}{assessment.pk}/change/"

    page = clinician_client.get(url)

    assert page.status_code == 200
    assert 'name="decided_level"' not in html(page)

    response = clinician_client.post(
        url,
        {
            "decided_level": "outpatient",
            "override_reason": "Changed my mind.",
            "_save": "Save",
        },
    )

    assert response.status_code == 403
    assessment.refresh_from_db()
    assert assessment.decided_level == "residential"
    assert assessment.override_reason == ""
