"""Who may read the reports, and other clinics' programs never in them."""

import datetime

import pytest

from patients.models import Level, Patient
from programs import reports
from programs.models import Program
from tests.factories import ProgramFactory, UserFactory, staff_user
from tests.programs.reports.helpers import CENSUS, STEP_DOWN, TODAY, admit, bulk_patients

pytestmark = pytest.mark.django_db


# Who may read -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admissions", "clinician", "supervisor"])
@pytest.mark.parametrize("path", [CENSUS, STEP_DOWN])
def test_every_staff_role_reads_the_reports(client_for, clinic, role, path):
    user = staff_user(role=role, clinics=[clinic])

    assert client_for(user).get(path).status_code == 200


@pytest.mark.parametrize("path", [CENSUS, STEP_DOWN])
def test_a_superuser_reads_the_reports(client_for, clinic, path):
    ProgramFactory(clinic=clinic, name="House", capacity=10)
    superuser = UserFactory(is_superuser=True, is_staff=True)

    response = client_for(superuser).get(path)

    assert response.status_code == 200


@pytest.mark.parametrize("path", [CENSUS, STEP_DOWN])
def test_a_user_without_a_staff_role_is_refused(client_for, user_without_role, path):
    response = client_for(user_without_role).get(path)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("path", [CENSUS, STEP_DOWN])
def test_reports_need_authentication(api_client, path):
    assert api_client.get(path).status_code == 401


def test_another_clinics_programs_never_appear(client_for, clinic, other_clinic):
    mine = ProgramFactory(clinic=clinic, name="Mine", level=Level.OUTPATIENT, capacity=10)
    theirs = ProgramFactory(clinic=other_clinic, name="Theirs", level=Level.OUTPATIENT, capacity=10)
    me = staff_user(role="clinician", clinics=[clinic])
    outsider = Patient.objects.create(
        clinic=other_clinic,
        mrn="X1",
        first_name="Olly",
        last_name="Other",
        date_of_birth=datetime.date(1980, 1, 1),
    )
    admit(bulk_patients(clinic, 1)[0], mine, TODAY)
    admit(outsider, theirs, TODAY)
    client = client_for(me)

    census = client.get(CENSUS).json()["results"]
    census_of_theirs = client.get(CENSUS, {"clinic": other_clinic.pk}).json()["results"]
    board = client.get(STEP_DOWN).json()["results"]
    board_of_theirs = client.get(STEP_DOWN, {"program": theirs.pk}).json()["results"]
    selector = reports.census(
        user=me, start=TODAY, end=TODAY, programs_queryset=Program.objects.all()
    )

    assert [row["program"]["id"] for row in census] == [mine.pk]
    assert census_of_theirs == []
    assert [row["program"] for row in board] == [mine.pk]
    assert board_of_theirs == []
    assert [row["program"]["id"] for row in selector] == [mine.pk]
