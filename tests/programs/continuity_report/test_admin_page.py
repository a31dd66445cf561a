"""The admin's "Continuity after discharge" page: the table and the chart, the patients for
supervisors alone (audited), linked from the home page's boards."""

import pytest

from tests.factories import admin_login, staff_user
from tests.programs.continuity_report.helpers import listed_audits

pytestmark = pytest.mark.django_db

PAGE = "/admin/programs/enrollment/continuity-report/"


def signed_in(client, clinic, role):
    user = staff_user(role=role, clinics=[clinic])
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    admin_login(client, user)
    return user


def test_a_supervisor_sees_the_table_the_chart_and_the_patients(client, clinic, case):
    supervisor = signed_in(client, clinic, "supervisor")

    response = client.get(PAGE, {"start": "2026-10", "end": "2026-11"})

    assert response.status_code == 200
    page = response.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="board-chart"' in page
    assert "Follow-up within 7 and 30 days of discharge, 2026-10 to 2026-11" in page
    assert (
        "<td>Harbor House</td><td>2026-11</td><td>6</td><td>2</td><td>0.3333</td><td>4</td>"
        "<td>0.6667</td><td>2</td><td>5</td><td>1</td><td>0.2</td>" in page
    )
    assert (
        "<td>Diaz, Dan</td><td>2026-11-05</td><td>discharge</td><td>—</td><td>2026-11-20</td>"
        in page
    )
    assert listed_audits(supervisor).count() == 9
    assert "/admin/programs/enrollment/continuity-report/" in client.get("/admin/").content.decode()
    refused = client.get(PAGE, {"start": "2026-11", "end": "2026-10"})
    assert "The end cannot be before the start" in refused.content.decode()


def test_a_clinician_sees_the_figures_without_names(client, clinic, case):
    clinician = signed_in(client, clinic, "clinician")

    page = client.get(PAGE, {"start": "2026-10", "end": "2026-11"}).content.decode()

    assert "<td>Harbor House</td><td>2026-11</td><td>6</td>" in page
    assert "Diaz" not in page
    assert not listed_audits(clinician).exists()


def test_the_page_needs_a_staff_role(client, user_without_role):
    user_without_role.is_staff = True
    user_without_role.save(update_fields=["is_staff"])
    admin_login(client, user_without_role)

    assert client.get(PAGE).status_code == 403
