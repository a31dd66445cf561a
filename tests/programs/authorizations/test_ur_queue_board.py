"""The UR queue as an admin board: the queue's sections as tables for utilization review and
supervisors, scoped to their clinics, audited, linked from the admin's home page for them only."""

import pytest

from clinic.models import AuditEvent
from tests.factories import (
    AuthorizationFactory,
    ClinicFactory,
    EnrollmentFactory,
    PatientFactory,
    ProgramFactory,
    admin_login,
    staff_user,
)
from tests.programs.authorizations.conftest import dec, nov

pytestmark = pytest.mark.django_db

URL = "/admin/programs/enrollment/ur-queue/"


def signed_in(client, user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return admin_login(client, user)


def authorization_link(world, pk) -> str:
    return f"/admin/programs/authorization/{pk}/change/"


def test_the_board_shows_each_section_with_its_rows(client, queue_world, reviewer):
    response = signed_in(client, reviewer).get(URL)

    page = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    for title in (
        "Reviews past due (1)",
        "Reviews due today (1)",
        "Reviews due tomorrow (1)",
        "Authorizations ending soon (1)",
        "Authorizations with few units left (1)",
        "Covered stays without an authorization (2)",
    ):
        assert title in page
    low = queue_world.low
    # the low authorization's row: 7 of 8 days used, 1 left, runs out Dec 2
    assert f"{low.patient.last_name}, {low.patient.first_name}" in page
    assert "<td>7 of 8 days</td>" in page
    assert f"<td>{dec(2):%Y-%m-%d}</td>" in page
    assert authorization_link(queue_world, queue_world.low_authorization.pk) in page
    assert f"/admin/programs/enrollment/{queue_world.uncovered.pk}/change/" in page
    assert f"<td>{nov(30):%Y-%m-%d}</td>" in page  # the review past due
    assert "R. Payer 555-0100" in page


def test_each_view_audits_the_records_shown(client, queue_world, reviewer):
    signed_in(client, reviewer).get(URL)

    audits = AuditEvent.objects.filter(actor=reviewer, action="list")
    # 3 reviews, 2 authorizations, 2 enrollments
    assert audits.count() == 7
    assert {a.patient_id for a in audits} >= {
        queue_world.low.patient_id,
        queue_world.uncovered.patient_id,
    }


def test_another_clinics_queue_is_not_shown(client, queue_world):
    away = ClinicFactory()
    away_staff = staff_user(role="admissions", clinics=[away])
    stranger = PatientFactory(clinic=away, actor=away_staff, last_name="Strangeway")
    stay = EnrollmentFactory(
        program=ProgramFactory(clinic=away), patient=stranger, start_date=nov(25), actor=away_staff
    )
    AuthorizationFactory(
        enrollment=stay, units_requested=7, start_date=nov(25), end_date=dec(1), approved=True
    )
    away_reviewer = staff_user(role="utilization_review", clinics=[away])

    home = signed_in(client, staff_user(role="supervisor", clinics=[queue_world.program.clinic]))
    assert "Strangeway" not in home.get(URL).content.decode()
    client.logout()
    page = signed_in(client, away_reviewer).get(URL).content.decode()
    assert "Strangeway" in page
    assert "House" not in page


@pytest.mark.parametrize("role", ["admissions", "clinician"])
def test_other_roles_are_refused_and_not_linked(client, clinic, role):
    client = signed_in(client, staff_user(role=role, clinics=[clinic]))

    assert client.get(URL).status_code == 403
    assert URL not in client.get("/admin/").content.decode()


@pytest.mark.parametrize("role", ["utilization_review", "supervisor"])
def test_the_home_page_links_the_board_for_reviewers_and_supervisors(client, clinic, role):
    client = signed_in(client, staff_user(role=role, clinics=[clinic]))

    assert URL in client.get("/admin/").content.decode()
