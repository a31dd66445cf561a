"""The admissions report (issue 28, item 6): per month of receipt (in the clinic's zone) and
referral source, with totals, computed by hand on a small clinic; one query whatever the range;
the API's range checks; the admin page with its chart."""

import datetime

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from programs.locks import inquiry_lock
from programs.models import InquiryStatus
from programs.reports_admissions import Month, admissions_report
from programs.services import inquiries
from tests.factories import (
    EnrollmentFactory,
    InquiryFactory,
    PatientFactory,
    ProgramFactory,
    referral_source,
    staff_user,
)
from tests.programs.admin.helpers import html, log_in

pytestmark = pytest.mark.django_db

REPORT = "/api/v1/reports/admissions/"
ADMIN_PAGE = "/admin/programs/enrollment/admissions-report/"
UTC = datetime.UTC


def at(month, day, hour=15):
    return datetime.datetime(2026, month, day, hour, tzinfo=UTC)


def move(inquiry, to_status, actor, reason="", **fields):
    with transaction.atomic():
        locked = inquiry_lock(inquiry.pk)
        for name, value in fields.items():
            setattr(locked, name, value)
        inquiries.inquiry_status_move(
            locked, to_status=to_status, actor=actor, now=at(12, 1), not_admitted_reason=reason
        )


def taken(clinic, kind, received_at, status=InquiryStatus.NEW):
    return InquiryFactory(
        clinic=clinic,
        referral_source=referral_source(clinic, kind),
        received_at=received_at,
        status=status,
    )


def admitted(clinic, actor, kind, received_at, start_date):
    inquiry = taken(clinic, kind, received_at, InquiryStatus.VERIFYING)
    move(inquiry, InquiryStatus.SCHEDULED, actor)
    enrollment = EnrollmentFactory(
        program=ProgramFactory(clinic=clinic, outpatient=True),
        patient=PatientFactory(clinic=clinic),
        start_date=start_date,
    )
    move(
        inquiry,
        InquiryStatus.ADMITTED,
        actor,
        patient=enrollment.patient,
        enrollment=enrollment,
    )
    return inquiry


@pytest.fixture
def pipeline(frozen_time, clinic, admissions, other_clinic):
    """Six inquiries of the clinic (H: the hospital source, S: self) and one after the range:

    - October: H at 22:00 on the 31st in New York (already November 1 in UTC), never screened;
      S screened.
    - November: H admitted 7 days after the call, H admitted 15 days after; S verified and
      scheduled, then not admitted; S new.
    - December 1: H (outside the range). Another clinic's November inquiry (not the caller's).
    """
    taken(clinic, "hospital", at(11, 1, 2))
    taken(clinic, "self", at(10, 20), InquiryStatus.SCREENING)
    admitted(clinic, admissions, "hospital", at(11, 3), datetime.date(2026, 11, 10))
    admitted(clinic, admissions, "hospital", at(11, 5), datetime.date(2026, 11, 20))
    lost = taken(clinic, "self", at(11, 10), InquiryStatus.VERIFYING)
    move(lost, InquiryStatus.SCHEDULED, admissions)
    move(lost, InquiryStatus.NOT_ADMITTED, admissions, reason="no_show")
    taken(clinic, "self", at(11, 12))
    taken(clinic, "hospital", at(12, 1, 14))
    taken(other_clinic, "hospital", at(11, 20))


def figures(inquiries, screened, verified, scheduled, admitted, rate, median):
    return {
        "inquiries": inquiries,
        "screened": screened,
        "verified": verified,
        "scheduled": scheduled,
        "admitted": admitted,
        "conversion_rate": rate,
        "median_days_to_admission": median,
    }


def test_the_report_by_hand(pipeline, clinic, admissions):
    report = admissions_report(user=admissions, start=Month(2026, 9), end=Month(2026, 11))

    hospital, own = referral_source(clinic, "hospital"), referral_source(clinic, "self")
    assert report["months"] == [
        {"month": "2026-09", **figures(0, 0, 0, 0, 0, None, None)},
        {"month": "2026-10", **figures(2, 1, 0, 0, 0, 0.0, None)},
        {"month": "2026-11", **figures(4, 3, 3, 3, 2, 0.5, 11.0)},
    ]

    def source(row):
        return (row["referral_source"], row["referral_source_name"], row["clinic"])

    assert [(source(row), row["inquiries"], row["admitted"]) for row in report["sources"]] == [
        ((hospital.pk, "Hospital", clinic.pk), 3, 2),
        ((own.pk, "Self", clinic.pk), 3, 0),
    ]
    assert report["sources"][0]["conversion_rate"] == 0.6667
    assert report["sources"][0]["median_days_to_admission"] == 11.0
    assert [(row["month"], row["referral_source"], row["inquiries"]) for row in report["rows"]] == [
        ("2026-10", hospital.pk, 1),
        ("2026-10", own.pk, 1),
        ("2026-11", hospital.pk, 2),
        ("2026-11", own.pk, 2),
    ]
    november_self = report["rows"][3]
    assert november_self == {
        "month": "2026-11",
        "referral_source": own.pk,
        "referral_source_name": "Self",
        "clinic": clinic.pk,
        **figures(2, 1, 1, 1, 0, 0.0, None),
    }
    assert report["total"] == figures(6, 4, 3, 3, 2, 0.3333, 11.0)


def test_a_range_with_no_inquiries_has_zero_totals(pipeline, admissions):
    report = admissions_report(user=admissions, start=Month(2025, 1), end=Month(2025, 2))

    assert report["rows"] == []
    assert report["sources"] == []
    assert report["total"] == figures(0, 0, 0, 0, 0, None, None)
    assert [month["month"] for month in report["months"]] == ["2025-01", "2025-02"]


def test_the_report_is_one_query_whatever_the_range(pipeline, admissions):
    admissions._continuum_clinic_ids = list(
        admissions.clinic_memberships.values_list("clinic_id", flat=True)
    )

    def queries(start, end):
        with CaptureQueriesContext(connection) as captured:
            admissions_report(user=admissions, start=start, end=end)
        return len(captured)

    assert queries(Month(2026, 11), Month(2026, 11)) == 1
    assert queries(Month(2024, 1), Month(2026, 12)) == 1


def test_the_api_serves_the_report_to_admissions_and_supervisors(
    pipeline, client_for, clinic, admissions, supervisor, clinician
):
    query = {"start": "2026-09", "end": "2026-11"}

    answer = client_for(admissions).get(REPORT, query)

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["start"], body["end"]) == ("2026-09", "2026-11")
    assert body["total"] == figures(6, 4, 3, 3, 2, 0.3333, 11.0)
    assert client_for(supervisor).get(REPORT, query).status_code == 200
    assert client_for(clinician).get(REPORT, query).status_code == 403
    # The clinic filter: another clinic's id counts nothing of it.
    other = client_for(admissions).get(REPORT, {**query, "clinic": clinic.pk + 1000})
    assert other.json()["total"]["inquiries"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "2026-11", "end": "2026-09"}, "end"),
        ({"start": "2023-01", "end": "2026-01"}, "end"),
        ({"start": "2026-13"}, "start"),
        ({"end": "2026-1"}, "end"),
        ({"start": "November"}, "start"),
    ],
)
def test_a_bad_range_is_a_400_naming_the_field(client_for, admissions, query, field):
    answer = client_for(admissions).get(REPORT, query)

    assert answer.status_code == 400
    assert field in answer.json()["fields"]


def test_without_a_range_the_last_twelve_months_to_this_one(frozen_time, client_for, admissions):
    body = client_for(admissions).get(REPORT).json()

    assert (body["start"], body["end"]) == ("2026-01", "2026-12")
    assert len(body["months"]) == 12


def test_the_api_s_query_count_is_pinned(pipeline, client_for, admissions):
    client = client_for(admissions)
    client.get(REPORT, {"start": "2026-11", "end": "2026-11"})

    def queries(start, end):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(REPORT, {"start": start, "end": end}).status_code == 200
        return len(captured)

    assert queries("2026-11", "2026-11") == queries("2024-01", "2026-12")


def test_the_admin_page_shows_the_tables_and_the_chart(pipeline, client, clinic, clinician):
    user = staff_user(role="admissions", clinics=[clinic])
    log_in(client, user)

    response = client.get(ADMIN_PAGE, {"start": "2026-09", "end": "2026-11"})
    refused = client.get(ADMIN_PAGE, {"start": "2026-11", "end": "2026-09"})

    page = html(response)
    assert response.status_code == 200
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="board-chart"' in page
    assert "2026-11: 4 inquiries, 3 screened, 3 verified, 3 scheduled, 2 admitted" in page
    assert "50%" in page
    assert "<th>All</th><th>6</th><th>4</th><th>3</th><th>3</th><th>2</th>" in page
    assert "The end cannot be before the start" in html(refused)
    log_in(client, clinician)
    assert client.get(ADMIN_PAGE).status_code == 403
