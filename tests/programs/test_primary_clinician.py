"""A primary clinician works at the program's clinic in a clinical role (issue 18, item 8b): a
risky check-in alerts them by name, and someone outside the clinic could not see it."""

import pytest
from django.core.exceptions import ValidationError

from clinic.models import ClinicMembership
from programs.models import Enrollment
from programs.services import enrollments as services
from tests.factories import PatientFactory, ProgramFactory, staff_user
from tests.programs.admin.helpers import enrollment_form, log_in
from tests.programs.enrollments.helpers import TODAY, day

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]

REFUSED = "The primary clinician must be a clinician or supervisor of {clinic}."


@pytest.fixture
def patient(admissions, clinic):
    return PatientFactory(clinic=clinic, actor=admissions, first_name="Maria")


@pytest.fixture
def elsewhere(other_clinic):
    """A clinician of another clinic only."""
    return staff_user(role="clinician", clinics=[other_clinic])


@pytest.fixture
def desk_of_both(clinic, other_clinic):
    """Admissions staff working at both clinics: the other clinic's clinicians are theirs to
    choose from, but not for this clinic's programs."""
    return staff_user(role="admissions", clinics=[clinic, other_clinic])


def admit(actor, patient, program, clinician):
    return services.enrollment_create(
        actor=actor, patient=patient, program=program, start_date=TODAY, primary_clinician=clinician
    )


# The service ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["elsewhere", "admissions"])
def test_the_service_refuses_someone_who_is_not_a_clinician_of_the_clinic(
    who, request, admissions, patient, iop, clinic
):
    chosen = request.getfixturevalue(who)

    with pytest.raises(ValidationError) as refusal:
        admit(admissions, patient, iop, chosen)

    assert refusal.value.message_dict == {"primary_clinician": [REFUSED.format(clinic=clinic)]}
    assert not Enrollment.objects.exists()


@pytest.mark.parametrize("who", ["clinician", "supervisor"])
def test_the_service_accepts_a_clinician_or_supervisor_of_the_clinic(
    who, request, admissions, patient, iop
):
    chosen = request.getfixturevalue(who)

    assert admit(admissions, patient, iop, chosen).primary_clinician == chosen


def test_a_transition_leaves_behind_a_clinician_who_left_the_clinic(
    admissions, clinician, patient, iop, clinic
):
    residential = ProgramFactory(clinic=clinic, name="Riverside Residential", capacity=2)
    source = admit(admissions, patient, residential, clinician)
    ClinicMembership.objects.filter(user=clinician, clinic=clinic).delete()
    other = staff_user(role="clinician", clinics=[clinic])

    move = services.transition_create(
        actor=other, enrollment=source, to_program=iop, date=day(1), kind="step_down", reason="ok"
    )

    assert move.to_enrollment.primary_clinician is None


# The API ----------------------------------------------------------------------------------------


def test_the_api_refuses_another_clinics_clinician_with_a_400_on_the_field(
    client_for, desk_of_both, elsewhere, patient, iop, clinic
):
    response = client_for(desk_of_both).post(
        "/api/v1/enrollments/",
        {
            "patient": patient.pk,
            "program": iop.pk,
            "start_date": TODAY.isoformat(),
            "primary_clinician": elsewhere.pk,
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["fields"] == {"primary_clinician": [REFUSED.format(clinic=clinic)]}
    assert not Enrollment.objects.exists()


def test_the_api_accepts_a_supervisor_of_the_clinic(
    client_for, admissions, supervisor, patient, iop
):
    response = client_for(admissions).post(
        "/api/v1/enrollments/",
        {
            "patient": patient.pk,
            "program": iop.pk,
            "start_date": TODAY.isoformat(),
            "primary_clinician": supervisor.pk,
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["primary_clinician"] == supervisor.pk


# The admin --------------------------------------------------------------------------------------


def test_the_admin_offers_only_clinical_staff_and_refuses_another_clinics_on_the_field(
    client, desk_of_both, admissions, clinician, supervisor, elsewhere, patient, iop, clinic
):
    client = log_in(client, desk_of_both)

    page = client.get("/admin/programs/enrollment/add/")
    response = client.post(
        "/admin/programs/enrollment/add/",
        enrollment_form(patient, iop, primary_clinician=str(elsewhere.pk)),
    )

    choices = set(page.context["adminform"].form.fields["primary_clinician"].queryset)
    assert choices == {clinician, supervisor, elsewhere}
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "primary_clinician": [REFUSED.format(clinic=clinic)]
    }
    assert not Enrollment.objects.exists()
