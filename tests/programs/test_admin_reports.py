"""The census and step-down board pages of the admin."""

import datetime

import pytest

from clinic.models import AuditEvent
from programs.services import authorizations
from programs.services import enrollments as services
from tests.factories import (
    AuthorizationFactory,
    PatientFactory,
    ProgramFactory,
    admin_login,
    staff_user,
)

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
TODAY = datetime.date(2026, 12, 1)


def login(client, user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    admin_login(client, user)
    return client


def admitted(clinic, actor, first, program, start=TODAY):
    patient = PatientFactory(
        clinic=clinic,
        actor=actor,
        first_name=first,
        last_name="Quill",
        date_of_birth=datetime.date(1990, 1, 1),
    )
    return services.enrollment_create(
        actor=actor, patient=patient, program=program, start_date=start
    )


@pytest.fixture
def residential(clinic):
    return ProgramFactory(clinic=clinic, name="House", level="residential", capacity=3)


def test_census_page_shows_each_day_of_each_program(
    frozen_time, client, clinic, admissions, residential
):
    admitted(clinic, admissions, "Ada", residential)
    admitted(clinic, admissions, "Bo", residential, start=TODAY + datetime.timedelta(days=1))

    response = login(client, admissions).get(
        "/admin/programs/enrollment/census/?start=2026-12-01&end=2026-12-02"
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "House" in page
    # capacity, admitted, reserved, waitlisted, free
    assert "<td>2026-12-01</td><td>3</td><td>1</td><td>0</td><td>0</td><td>2</td>" in page
    assert "<td>2026-12-02</td><td>3</td><td>1</td><td>1</td><td>0</td><td>1</td>" in page


def test_census_page_refuses_a_too_long_range_with_a_message(
    frozen_time, client, admissions, residential
):
    response = login(client, admissions).get(
        "/admin/programs/enrollment/census/?start=2026-01-01&end=2026-12-31"
    )

    assert response.status_code == 200
    assert "at most 92 days" in response.content.decode()


def test_step_down_page_lists_active_patients_and_audits_them(
    frozen_time, client, clinic, admissions, residential, other_clinic
):
    stay = admitted(clinic, admissions, "Ada", residential)
    outsider = staff_user(role="admissions", clinics=[other_clinic])
    elsewhere = ProgramFactory(
        clinic=other_clinic, name="Elsewhere", level="residential", capacity=3
    )
    admitted(other_clinic, outsider, "Zed", elsewhere)

    response = login(client, admissions).get("/admin/programs/enrollment/step-down/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Quill, Ada" in page
    assert "Zed" not in page
    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(
        action="list", object_type="programs.enrollment", patient_id=stay.patient_id
    ).exists()


def test_report_pages_need_a_staff_role(client, user_without_role):
    login(client, user_without_role)

    assert client.get("/admin/programs/enrollment/census/").status_code == 403
    assert client.get("/admin/programs/enrollment/step-down/").status_code == 403


def test_the_enrollment_list_links_to_both_pages(client, admissions):
    page = login(client, admissions).get("/admin/programs/enrollment/").content.decode()

    assert "/admin/programs/enrollment/census/" in page
    assert "/admin/programs/enrollment/step-down/" in page


def test_the_boards_show_what_the_payer_authorized(frozen_time, client, clinic, admissions):
    # given: Ada in the residential house since today, 3 days approved at the IOP level, a
    # review due tomorrow; the payer's IOP is below the house's level
    house = ProgramFactory(clinic=clinic, name="House", level="residential", capacity=3)
    stay = admitted(clinic, admissions, "Ada", house)
    authorization = AuthorizationFactory(
        enrollment=stay,
        authorized_level="iop",
        units_requested=3,
        end_date=TODAY + datetime.timedelta(days=2),
        approved=True,
        actor=admissions,
    )
    authorizations.review_schedule(
        actor=admissions,
        authorization=authorization,
        kind="concurrent",
        scheduled_on=TODAY + datetime.timedelta(days=1),
    )
    login(client, admissions)

    # when
    board = client.get("/admin/programs/enrollment/step-down/").content.decode()
    census = client.get(
        "/admin/programs/enrollment/census/?start=2026-12-01&end=2026-12-02"
    ).content.decode()

    # then: iop approved, 3 sessions left, through 12-03, review 12-02, both flags; in the
    # census, authorized (below the level) both days and the review on the 2nd
    assert '<td class="authorized">iop <small>(approved)</small></td>' in board
    assert '<td class="units-left">3 sessions</td>' in board
    assert "<td>2026-12-03</td>\n        <td>2026-12-02</td>" in board
    assert "authorized_level_below_clinical" in board
    assert "authorization_ends_before_planned_end" in board
    assert 'class="authorized-end"' in board
    assert "<td>2</td><td>1</td><td>1</td><td>0</td></tr>" in census
    assert "<td>2</td><td>1</td><td>1</td><td>1</td></tr>" in census
