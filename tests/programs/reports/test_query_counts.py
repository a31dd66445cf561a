"""The reports' cost follows the page, not the data or the range."""

import pytest

from clinic.models import AuditEvent
from patients import services as patient_services
from patients.models import Patient
from programs.models import Enrollment
from programs.services import authorizations
from tests.factories import AuthorizationFactory
from tests.programs.reports.helpers import CENSUS, LOW, STEP_DOWN

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page_size", [1, 50, 200])
def test_census_queries_do_not_grow_with_the_page(
    client_for, supervisor, many_programs, page_size, django_assert_num_queries
):
    client = client_for(supervisor)

    # roles, clinic ids, count, page of programs, census, readmissions
    with django_assert_num_queries(6):
        response = client.get(
            CENSUS, {"start": "2026-12-01", "end": "2026-12-30", "page_size": page_size}
        )

    assert len(response.json()["results"]) == page_size


@pytest.mark.parametrize("end", ["2026-12-07", "2027-03-02"])
def test_census_queries_do_not_grow_with_the_range(
    client_for, supervisor, many_programs, end, django_assert_num_queries
):
    client = client_for(supervisor)

    # roles, clinic ids, count, page of programs, census, readmissions
    with django_assert_num_queries(6):
        response = client.get(CENSUS, {"start": "2026-12-01", "end": end})

    assert response.status_code == 200


def test_census_default_range_costs_one_query_for_the_zones(
    client_for, supervisor, many_programs, django_assert_num_queries
):
    with django_assert_num_queries(7):
        client_for(supervisor).get(CENSUS)


@pytest.mark.parametrize("page_size", [1, 50, 200])
def test_step_down_queries_do_not_grow_with_the_page(
    client_for,
    supervisor,
    clinician,
    admissions,
    many_programs,
    page_size,
    django_assert_num_queries,
):
    patients = Patient.objects.all()[:30]
    for patient in patients:
        patient_services.assessment_create(
            actor=clinician, patient=patient, severity="mild", dimensions=LOW
        )
    # the ten longest stays (the first page's) authorized, one denied at its review
    for stay in Enrollment.objects.order_by("start_date", "-id")[:10]:
        AuthorizationFactory(enrollment=stay, approved=True, actor=admissions)
    review = authorizations.review_schedule(
        actor=admissions,
        authorization=stay.authorizations.get(),
        kind="concurrent",
        scheduled_on=stay.start_date,
    )
    authorizations.review_record(
        actor=admissions,
        review=review,
        outcome="denied",
        done_on=stay.start_date,
        payer_recommended_level="outpatient",
    )
    client = client_for(supervisor)

    # roles, clinic ids, count, page (assessments, current authorization, payer's level and
    # flags as subqueries), the page's current authorizations with their use, attendance
    # figures, the page's measures (first and latest responses; measures_due's schedules and
    # orders), audit insert
    with django_assert_num_queries(10):
        response = client.get(STEP_DOWN, {"page_size": page_size})

    assert len(response.json()["results"]) == page_size
    assert AuditEvent.objects.filter(action="list").count() == page_size
