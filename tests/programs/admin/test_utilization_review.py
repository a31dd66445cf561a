"""Utilization review in the admin: payers, coverage and authorizations with their reviews,
scoped to the staff member's clinics, written through the services by the roles that may, the
services' refusals shown as form errors, and the reads audited."""

import datetime

import pytest

from clinic.models import AuditAction
from patients.models import Level
from programs.models import (
    Authorization,
    AuthorizationStatus,
    ConcurrentReview,
    Coverage,
    Payer,
    PayerKind,
)
from tests.factories import (
    AuthorizationFactory,
    CoverageFactory,
    EnrollmentFactory,
    PayerFactory,
    staff_user,
)
from tests.programs.admin.helpers import audit_rows, html, log_in

pytestmark = pytest.mark.django_db

AUTHORIZATIONS = "/admin/programs/authorization/"
COVERAGES = "/admin/programs/coverage/"
PAYERS = "/admin/programs/payer/"


@pytest.fixture
def reviewer(clinic):
    return staff_user(role="utilization_review", clinics=[clinic])


@pytest.fixture
def reviewer_client(client, reviewer):
    return log_in(client, reviewer)


@pytest.fixture
def authorization(admissions, stay):
    """Alvarez's residential stay: 14 days requested from its start (today), approved."""
    return AuthorizationFactory(enrollment=stay, actor=admissions, approved=True)


@pytest.fixture
def stranger_authorization(stranger_stay):
    return AuthorizationFactory(enrollment=stranger_stay, approved=True)


def cell(name, value) -> str:
    return f'<td class="field-{name}">{value}</td>'


def request_form(enrollment, coverage, **overrides):
    today = enrollment.program.clinic.today()
    data = {
        "enrollment": str(enrollment.pk),
        "coverage": str(coverage.pk),
        "authorized_level": enrollment.level,
        "unit": "",
        "units_requested": "7",
        "start_date": today.isoformat(),
        "end_date": (today + datetime.timedelta(days=6)).isoformat(),
        "number": "",
        "next_review_on": "",
        "reviewer_name": "",
        "reviewer_phone": "",
        "notes": "",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def coverage_form(patient, payer, **overrides):
    data = {
        "patient": str(patient.pk),
        "payer": str(payer.pk),
        "priority": "primary",
        "member_id": "XQ123",
        "group_number": "",
        "subscriber_relation": "self",
        "start_date": (patient.clinic.today() - datetime.timedelta(days=30)).isoformat(),
        "end_date": "",
        "_save": "Save",
    }
    data.update(overrides)
    return data


# Scoping and audit --------------------------------------------------------------------------------


def test_the_list_shows_the_clinics_authorizations_with_their_use_and_audits_it(
    reviewer_client, reviewer, authorization, stranger_authorization
):
    page = reviewer_client.get(AUTHORIZATIONS)

    assert page.status_code == 200
    text = html(page)
    assert "Alvarez" in text
    assert "Quimbyfaraway" not in text
    # Admitted today: one day used of the 14 approved.
    assert cell("units_approved", 14) in text
    assert cell("units_used", 1) in text
    assert cell("units_remaining", 13) in text
    assert "Residential / Residential" in text
    listed = audit_rows(AuditAction.LIST, object_type="programs.authorization", actor=reviewer)
    assert list(listed.values_list("object_id", "patient_id")) == [
        (str(authorization.pk), authorization.patient_id)
    ]


def test_another_clinics_authorization_and_coverage_are_not_found(
    reviewer_client, stranger_authorization
):
    coverage = stranger_authorization.coverage
    pages = [
        f"{AUTHORIZATIONS}{stranger_authorization.pk}/change/",
        f"{AUTHORIZATIONS}{stranger_authorization.pk}/schedule_review/",
        f"{COVERAGES}{coverage.pk}/change/",
    ]
    for url in pages:
        response = reviewer_client.get(url, follow=True)
        assert response.redirect_chain[0][1] == 302, url
        assert "Quimbyfaraway" not in html(response)
    listing = html(reviewer_client.get(COVERAGES))
    assert "Quimbyfaraway" not in listing
    payers = html(reviewer_client.get(PAYERS))
    assert coverage.payer.name not in payers


def test_the_change_page_shows_levels_use_and_reviews_and_is_audited(
    reviewer_client, reviewer, authorization
):
    page = reviewer_client.get(f"{AUTHORIZATIONS}{authorization.pk}/change/")

    assert page.status_code == 200
    text = html(page)
    assert "Schedule a review" in text
    assert "Record the payer&#x27;s decision" not in text  # decided already
    read = audit_rows(AuditAction.READ, object_type="programs.authorization", actor=reviewer)
    assert read.filter(patient_id=authorization.patient_id).count() == 1


def test_the_list_takes_the_same_queries_for_one_authorization_or_many(
    reviewer_client, admissions, iop, authorization
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert reviewer_client.get(AUTHORIZATIONS).status_code == 200
        return len(captured)

    one = queries()
    for _ in range(3):
        stay = EnrollmentFactory(program=iop, actor=admissions)
        AuthorizationFactory(enrollment=stay, actor=admissions, approved=True)

    assert queries() == one


# Roles --------------------------------------------------------------------------------------------


def test_a_clinician_reads_but_cannot_request_decide_or_review(
    clinician_client, clinic, stay, authorization
):
    coverage = authorization.coverage

    assert clinician_client.get(AUTHORIZATIONS).status_code == 200
    page = clinician_client.get(f"{AUTHORIZATIONS}{authorization.pk}/change/")
    assert page.status_code == 200
    assert "Schedule a review" not in html(page)
    assert clinician_client.get(f"{AUTHORIZATIONS}add/").status_code == 403
    added = clinician_client.post(f"{AUTHORIZATIONS}add/", request_form(stay, coverage))
    scheduled = clinician_client.post(
        f"{AUTHORIZATIONS}{authorization.pk}/schedule_review/",
        {"kind": "concurrent", "scheduled_on": clinic.today().isoformat()},
    )
    assert (added.status_code, scheduled.status_code) == (403, 403)
    assert Authorization.objects.count() == 1
    assert not ConcurrentReview.objects.exists()
    assert clinician_client.get(f"{COVERAGES}add/").status_code == 403
    assert clinician_client.get(f"{PAYERS}add/").status_code == 403


def test_payers_are_added_by_supervisors_only(client, supervisor, admissions, clinic):
    log_in(client, supervisor)

    response = client.post(
        f"{PAYERS}add/", {"clinic": clinic.pk, "name": " Lakeside Medicaid ", "kind": "medicaid"}
    )

    assert response.status_code == 302
    payer = Payer.objects.get()
    assert (payer.name, payer.kind) == ("Lakeside Medicaid", PayerKind.MEDICAID)
    assert audit_rows(AuditAction.CREATE, object_type="programs.payer").count() == 1
    log_in(client, admissions)
    assert client.get(PAYERS).status_code == 200
    assert client.get(f"{PAYERS}add/").status_code == 403


# The flow through the services --------------------------------------------------------------------


def test_utilization_review_requests_decides_schedules_and_records(
    reviewer_client, reviewer, admissions, clinic, stay
):
    coverage = CoverageFactory(patient=stay.patient, actor=admissions)
    today = clinic.today()

    added = reviewer_client.post(
        f"{AUTHORIZATIONS}add/", request_form(stay, coverage, number="PA-77")
    )
    authorization = Authorization.objects.get()
    assert added.status_code == 302
    assert added.url == f"{AUTHORIZATIONS}{authorization.pk}/change/"
    assert (authorization.unit, authorization.units_requested) == ("days", 7)

    base = f"{AUTHORIZATIONS}{authorization.pk}"
    decided = reviewer_client.post(
        f"{base}/decide/",
        {"decision": "partially_approved", "units_approved": "5", "number": "PA-77"},
    )
    assert decided.status_code == 302
    authorization.refresh_from_db()
    assert (authorization.status, authorization.units_approved) == ("partially_approved", 5)

    review_day = today + datetime.timedelta(days=3)
    scheduled = reviewer_client.post(
        f"{base}/schedule_review/",
        {"kind": "concurrent", "scheduled_on": review_day.isoformat(), "reviewer": "Dr. Pike"},
    )
    assert scheduled.status_code == 302
    review = ConcurrentReview.objects.get()
    authorization.refresh_from_db()
    assert authorization.next_review_on == review_day

    recorded = reviewer_client.post(
        f"{base}/record_review/",
        {
            "review": review.pk,
            "outcome": "approved_more",
            "done_on": review_day.isoformat(),
            "units_added": "4",
            "end_date": (today + datetime.timedelta(days=10)).isoformat(),
            "next_review_on": "",
        },
    )
    assert recorded.status_code == 302
    authorization.refresh_from_db()
    review.refresh_from_db()
    assert (authorization.status, authorization.units_approved) == ("approved", 9)
    assert authorization.end_date == today + datetime.timedelta(days=10)
    assert (review.outcome, review.units_added, review.recorded_by) == (
        "approved_more",
        4,
        reviewer,
    )
    page = html(reviewer_client.get(f"{base}/change/"))
    assert "Approved more units" in page
    assert "Dr. Pike" in page
    written = audit_rows(AuditAction.UPDATE, actor=reviewer, patient_id=stay.patient_id)
    assert written.filter(object_type="programs.authorization").count() == 2
    assert written.filter(object_type="programs.concurrentreview").count() == 1
    assert audit_rows(AuditAction.CREATE, actor=reviewer).count() == 2  # the request, the review


def test_a_denial_shows_the_payers_level_beside_the_clinical_one(
    reviewer_client, clinic, authorization
):
    base = f"{AUTHORIZATIONS}{authorization.pk}"
    reviewer_client.post(
        f"{base}/schedule_review/",
        {"kind": "concurrent", "scheduled_on": clinic.today().isoformat()},
    )
    review = ConcurrentReview.objects.get()

    reviewer_client.post(
        f"{base}/record_review/",
        {
            "review": review.pk,
            "outcome": "denied",
            "done_on": clinic.today().isoformat(),
            "payer_recommended_level": Level.IOP,
        },
    )

    authorization.refresh_from_db()
    assert authorization.status == AuthorizationStatus.DENIED
    page = html(reviewer_client.get(f"{base}/change/"))
    assert "Intensive outpatient (Residential)" in page
    # Only a denial is appealed: the booking page now offers the appeal first.
    booking = html(reviewer_client.get(f"{base}/schedule_review/"))
    assert '<option value="appeal" selected>' in booking


# Refusals as form errors --------------------------------------------------------------------------


def test_the_services_refusals_are_form_errors(reviewer_client, admissions, clinic, stay):
    coverage = CoverageFactory(patient=stay.patient, actor=admissions)
    authorization = AuthorizationFactory(enrollment=stay, coverage=coverage, actor=admissions)
    base = f"{AUTHORIZATIONS}{authorization.pk}"

    partial = reviewer_client.post(
        f"{base}/decide/", {"decision": "partially_approved", "units_approved": "14"}
    )
    assert partial.status_code == 200
    assert "A partial approval is between 1 and 13 units." in html(partial)

    stale = reviewer_client.post(f"{base}/decide/", {"decision": "approved", "record_version": 99})
    assert stale.status_code == 200
    assert "since you read it" in html(stale)
    authorization.refresh_from_db()
    assert authorization.status == AuthorizationStatus.REQUESTED

    reviewer_client.post(f"{base}/decide/", {"decision": "approved"})
    reviewer_client.post(
        f"{base}/schedule_review/",
        {"kind": "concurrent", "scheduled_on": clinic.today().isoformat()},
    )
    review = ConcurrentReview.objects.get()
    no_units = reviewer_client.post(
        f"{base}/record_review/",
        {"review": review.pk, "outcome": "approved_more", "done_on": clinic.today().isoformat()},
    )
    assert no_units.status_code == 200
    assert "Approving more adds at least one unit." in html(no_units)
    appeal = reviewer_client.post(
        f"{base}/schedule_review/", {"kind": "appeal", "scheduled_on": clinic.today().isoformat()}
    )
    assert "Only a denial is appealed." in html(appeal)
    # An overlapping approved authorization of the same payer: the constraint's message.
    overlap = reviewer_client.post(f"{AUTHORIZATIONS}add/", request_form(stay, coverage))
    assert overlap.status_code == 302  # requested: no overlap until approved
    second = Authorization.objects.exclude(pk=authorization.pk).get()
    refused = reviewer_client.post(f"{AUTHORIZATIONS}{second.pk}/decide/", {"decision": "approved"})
    assert "This payer already authorized this enrollment on these dates." in html(refused)


def test_self_pay_and_overlapping_primary_coverage_are_refused_on_the_forms(
    reviewer_client, admissions, clinic, stay
):
    self_pay = PayerFactory(clinic=clinic, name="Self-pay", kind=PayerKind.SELF_PAY)
    coverage_page = reviewer_client.post(f"{COVERAGES}add/", coverage_form(stay.patient, self_pay))
    assert coverage_page.status_code == 302
    coverage = Coverage.objects.get()

    refused = reviewer_client.post(f"{AUTHORIZATIONS}add/", request_form(stay, coverage))
    assert refused.status_code == 200
    assert "Self-pay care needs no authorization." in html(refused)
    commercial = PayerFactory(clinic=clinic)
    overlap = reviewer_client.post(f"{COVERAGES}add/", coverage_form(stay.patient, commercial))
    assert overlap.status_code == 200
    assert "The patient already has a primary coverage on these dates." in html(overlap)
    assert not Authorization.objects.exists()
    assert Coverage.objects.count() == 1


def test_a_coverage_is_corrected_and_a_stale_form_is_refused(reviewer_client, admissions, stay):
    coverage = CoverageFactory(patient=stay.patient, actor=admissions)
    url = f"{COVERAGES}{coverage.pk}/change/"
    data = coverage_form(
        stay.patient,
        coverage.payer,
        member_id="NEW-1",
        start_date=coverage.start_date.isoformat(),
        record_version=coverage.version,
    )

    saved = reviewer_client.post(url, data)
    stale = reviewer_client.post(url, {**data, "member_id": "NEW-2"})

    assert saved.status_code == 302
    assert stale.status_code == 200
    assert "since you read it" in html(stale)
    coverage.refresh_from_db()
    assert coverage.member_id == "NEW-1"


def test_a_taken_payer_name_is_a_form_error_when_adding_or_renaming(client, supervisor, clinic):
    PayerFactory(clinic=clinic, name="Harbor Health")
    other = PayerFactory(clinic=clinic, name="Lakeside Plan")
    log_in(client, supervisor)

    added = client.post(
        f"{PAYERS}add/", {"clinic": clinic.pk, "name": "harbor health", "kind": "commercial"}
    )
    renamed = client.post(
        f"{PAYERS}{other.pk}/change/", {"name": "HARBOR HEALTH", "kind": "commercial"}
    )
    corrected = client.post(f"{PAYERS}{other.pk}/change/", {"name": "Lakeside", "kind": "other"})

    for response in (added, renamed):
        assert response.status_code == 200
        assert "This clinic already has a payer with this name." in html(response)
    assert corrected.status_code == 302
    other.refresh_from_db()
    assert (other.name, other.kind) == ("Lakeside", "other")
    assert Payer.objects.count() == 2
    assert audit_rows(AuditAction.UPDATE, object_type="programs.payer").count() == 1


def test_the_patients_page_lists_coverage_with_its_authorizations(
    client, admissions, authorization
):
    log_in(client, admissions)

    page = html(client.get(f"/admin/patients/patient/{authorization.patient_id}/change/"))

    assert authorization.payer.name in page
    assert f"{AUTHORIZATIONS}{authorization.pk}/change/" in page
    assert "Add a coverage" in page
