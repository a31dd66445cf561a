"""Who may enroll, other clinics out of reach, and the enrollment list's query count."""

import pytest

from programs.services import enrollments as services
from tests.factories import PatientFactory, ProgramFactory, staff_user
from tests.programs.enrollments.helpers import TODAY, enroll, frozen

pytestmark = pytest.mark.django_db


@frozen
def test_roles(client_for, clinic, residential, patients, admissions):
    clinician = staff_user(role="clinician", clinics=[clinic])
    supervisor = staff_user(role="supervisor", clinics=[clinic])
    enrollment = services.enrollment_create(
        actor=admissions, patient=patients[0], program=residential, start_date=TODAY
    )

    assert enroll(client_for(clinician), patients[1], residential).status_code == 403
    assert enroll(client_for(supervisor), patients[1], residential).status_code == 403
    assert client_for(supervisor).get(f"/api/v1/enrollments/{enrollment.pk}/").status_code == 200
    assert (
        client_for(clinician)
        .post(
            f"/api/v1/enrollments/{enrollment.pk}/discharge/",
            {"date": "2026-12-01", "reason": "completed"},
            format="json",
        )
        .status_code
        == 200
    )


@frozen
def test_another_clinics_enrollments_and_programs_are_out_of_reach(
    client_for, admissions, other_clinic, patients, residential
):
    outsider = staff_user(role="admissions", clinics=[other_clinic])
    outside_patient = PatientFactory(clinic=other_clinic, actor=outsider)
    outside_program = ProgramFactory(clinic=other_clinic, level="residential", capacity=2)
    hidden = services.enrollment_create(
        actor=outsider, patient=outside_patient, program=outside_program, start_date=TODAY
    )
    client = client_for(admissions)

    assert client.get(f"/api/v1/enrollments/{hidden.pk}/").status_code == 404
    assert client.get("/api/v1/enrollments/").json()["results"] == []
    assert client.get(f"/api/v1/programs/{outside_program.pk}/").status_code == 404
    refused = enroll(client, patients[0], outside_program)
    assert refused.status_code == 400
    assert "program" in refused.json()["fields"]
    assert (
        client.post(
            f"/api/v1/enrollments/{hidden.pk}/discharge/",
            {"date": "2026-12-01", "reason": "completed"},
            format="json",
        ).status_code
        == 404
    )


@pytest.mark.parametrize("page_size", [1, 50, 200])
def test_enrollment_list_queries_do_not_grow_with_the_page(
    client_for, supervisor, clinic, admissions, page_size, django_assert_num_queries
):
    program = ProgramFactory(clinic=clinic, level="outpatient", capacity=500)
    for _ in range(200):
        services.enrollment_create(
            actor=admissions,
            patient=PatientFactory(clinic=clinic, actor=admissions),
            program=program,
            start_date=clinic.today(),
        )

    # roles, clinic ids, count, page (program and patient joined), the page's status history
    # (its users joined), audit insert
    with django_assert_num_queries(6):
        response = client_for(supervisor).get(f"/api/v1/enrollments/?page_size={page_size}")

    assert len(response.json()["results"]) == page_size
