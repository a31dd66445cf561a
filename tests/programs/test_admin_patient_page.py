"""The patient's page as the admissions desk's one screen (programs.admin.patients), the census
bed board and the boards' SVG charts (programs.admin.reports, programs.charts)."""

import datetime
import re

import pytest

from clinic.models import AuditAction, AuditEvent, Bed
from patients import services as patient_services
from programs.models import BedAssignment, Enrollment
from programs.services import enrollments as services
from tests.factories import PatientFactory, ProgramFactory, admin_login

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]

NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
TODAY = datetime.date(2026, 12, 1)
CENSUS = "/admin/programs/enrollment/census/"
STEP_DOWN = "/admin/programs/enrollment/step-down/"

# A residential picture: withdrawal risk 3 and a severe disorder.
RESIDENTIAL_DIMENSIONS = {"d1": 3, "d2": 1, "d3": 2, "d4": 2, "d5": 3, "d6": 2}


def login(client, user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    admin_login(client, user)
    return client


def assess(patient, actor):
    return patient_services.assessment_create(
        actor=actor,
        patient=patient,
        criteria_count=7,
        dimensions=RESIDENTIAL_DIMENSIONS,
    )


def page_of(client, patient) -> str:
    response = client.get(f"/admin/patients/patient/{patient.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def house(clinic):
    house = ProgramFactory(clinic=clinic, name="House", level="residential", capacity=2)
    beds = [Bed.objects.create(clinic=clinic, room="A", label=str(n)) for n in (1, 2)]
    house.beds.set(beds)
    return house


@pytest.fixture
def evening(clinic):
    return ProgramFactory(
        clinic=clinic, name="Evening IOP", level="iop", capacity=10, track="evening"
    )


@pytest.fixture
def patient(clinic, admissions):
    return PatientFactory(
        clinic=clinic,
        actor=admissions,
        last_name="Quill",
        first_name="Noor",
        date_of_birth=datetime.date(1988, 5, 6),
    )


# The patient's page -------------------------------------------------------------------------------


def test_without_an_assessment_the_page_asks_for_one(client, admissions, patient, house):
    text = page_of(login(client, admissions), patient)
    assert "Record an assessment first" in text


def test_the_page_shows_the_recommendation_its_rationale_and_programs_of_that_level(
    client, admissions, patient, house, evening
):
    assessment = assess(patient, admissions)
    text = page_of(login(client, admissions), patient)

    assert "Level recommended: <strong>Residential</strong>" in text
    for sentence in assessment.rationale:
        assert sentence in text
    # An admit link for the residential program with today's places, none for the IOP.
    assert re.search(
        rf'href="/admin/programs/enrollment/add/\?patient={patient.pk}&amp;'
        rf'assessment={assessment.pk}&amp;program={house.pk}&amp;start_date=2026-12-01"',
        text,
    )
    assert "House</a> (2 of 2 places free today)" in text
    assert f"program={evening.pk}" not in text


def test_saving_an_enrollment_added_from_the_page_comes_back_to_the_patient(
    client, admissions, patient, house
):
    assessment = assess(patient, admissions)
    response = login(client, admissions).post(
        "/admin/programs/enrollment/add/",
        {
            "patient": patient.pk,
            "program": house.pk,
            "start_date": "2026-12-01",
            "assessment": assessment.pk,
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"/admin/patients/patient/{patient.pk}/change/"
    assert Enrollment.objects.get(patient=patient).status == "admitted"


def test_a_consent_saved_from_the_page_comes_back_to_the_patient(client, admissions, patient):
    response = login(client, admissions).post(
        "/admin/patients/consent/add/",
        {
            "patient": patient.pk,
            "discloser": "The clinic",
            "information": "Attendance",
            "recipient_names": "Family doctor",
            "purposes": ["treatment"],
            "categories": ["attendance"],
            "revocation_how": "In writing, at any time.",
            "signed_on": "2026-11-30",
            "expiry_event": "End of treatment",
            "treatment_conditioned": "no",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == f"/admin/patients/patient/{patient.pk}/change/"


def test_the_enrollments_table_shows_the_bed_and_the_steps_each_role_may_take(
    client, admissions, clinician, patient, house
):
    stay = services.enrollment_create(
        actor=admissions, patient=patient, program=house, start_date=TODAY
    )
    bed = house.beds.order_by("label").first()
    services.bed_assign(actor=admissions, enrollment=stay, bed=bed)

    text = page_of(login(client, admissions), patient)
    assert f"{bed} (from 2026-12-01)" in text
    next_param = f"next=%2Fadmin%2Fpatients%2Fpatient%2F{patient.pk}%2Fchange%2F"
    assert f'href="/admin/programs/enrollment/{stay.pk}/bed/?{next_param}"' in text
    assert "step-transition" not in text  # a clinician's decision

    text = page_of(login(client, clinician), patient)
    assert "step-transition" in text
    assert "step-bed" not in text
    assert "Admissions staff admit from here." in text


def test_an_action_page_opened_from_the_patient_goes_back_there(client, admissions, patient, house):
    stay = services.enrollment_create(
        actor=admissions, patient=patient, program=house, start_date=TODAY
    )
    bed = house.beds.order_by("label").first()
    back = f"/admin/patients/patient/{patient.pk}/change/"
    login(client, admissions)

    form = client.get(f"/admin/programs/enrollment/{stay.pk}/bed/", {"next": back})
    text = form.content.decode()
    assert f'<input type="hidden" name="next" value="{back}">' in text
    assert f"{bed} (free)" in text

    response = client.post(
        f"/admin/programs/enrollment/{stay.pk}/bed/", {"bed": bed.pk, "next": back}
    )
    assert response.status_code == 302
    assert response["Location"] == back
    assert BedAssignment.objects.get(enrollment=stay).bed == bed


def test_an_action_page_ignores_a_next_address_on_another_site(client, admissions, patient, house):
    stay = services.enrollment_create(
        actor=admissions, patient=patient, program=house, start_date=TODAY
    )
    bed = house.beds.first()
    response = login(client, admissions).post(
        f"/admin/programs/enrollment/{stay.pk}/bed/",
        {"bed": bed.pk, "next": "https://elsewhere.example/phish"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/admin/programs/enrollment/{stay.pk}/change/"


def test_the_bed_form_says_which_beds_are_taken(client, admissions, clinic, house):
    first, second = (
        PatientFactory(
            clinic=clinic,
            actor=admissions,
            last_name=name,
            first_name="Noor",
            date_of_birth=datetime.date(1988, 5, 6),
        )
        for name in ("Ames", "Bell")
    )
    bed_one, bed_two = house.beds.order_by("label")
    one = services.enrollment_create(
        actor=admissions, patient=first, program=house, start_date=TODAY
    )
    services.bed_assign(actor=admissions, enrollment=one, bed=bed_one)
    two = services.enrollment_create(
        actor=admissions, patient=second, program=house, start_date=TODAY
    )
    text = login(client, admissions).get(f"/admin/programs/enrollment/{two.pk}/bed/")
    text = text.content.decode()
    assert f"{bed_one} (taken)" in text
    assert f"{bed_two} (free)" in text
    assert "Ames" not in text  # who is in it is the bed board's business


# The census: bed board and charts -----------------------------------------------------------------


def test_the_bed_board_shows_each_bed_and_who_is_in_it_and_is_audited(
    client, supervisor, admissions, clinic, other_clinic, patient, house
):
    stay = services.enrollment_create(
        actor=admissions, patient=patient, program=house, start_date=TODAY
    )
    bed_one, bed_two = house.beds.order_by("label")
    services.bed_assign(actor=admissions, enrollment=stay, bed=bed_one)
    Bed.objects.create(clinic=other_clinic, room="Z", label="99")
    Bed.objects.create(clinic=clinic, room="A", label="retired", is_active=False)

    response = login(client, supervisor).get(CENSUS)
    text = response.content.decode()

    assert "2 beds, 1 free." in text
    board = text[text.index('id="bed-board"') : text.index("</ul>", text.index('id="bed-board"'))]
    assert "Quill, Noor" in board
    assert str(bed_two) in board
    assert "99" not in board
    assert "retired" not in board
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    assert AuditEvent.objects.filter(
        actor=supervisor, action=AuditAction.LIST, object_id=str(stay.pk), patient_id=patient.pk
    ).exists()


def test_the_census_draws_an_occupancy_chart_per_program(
    client, supervisor, admissions, patient, house
):
    services.enrollment_create(actor=admissions, patient=patient, program=house, start_date=TODAY)
    text = login(client, supervisor).get(CENSUS).content.decode()
    figure = text[text.index(f'data-program="{house.pk}"') :]
    figure = figure[: figure.index("</figure>")]
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="board-chart"' in figure
    # 30 days, one bar group each, with the day's figures as its tooltip.
    assert figure.count("<title>2026-") == 30
    assert "<title>2026-12-01: 1 admitted, 0 reserved, 0 waitlisted, capacity 2</title>" in figure


def test_chart_text_is_escaped(client, supervisor, admissions, clinic):
    hostile = ProgramFactory(
        clinic=clinic, name="<script>alert(1)</script>", level="outpatient", capacity=5
    )
    patient = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="<b>Eve</b>",
        last_name="<i>Quill</i>",
        date_of_birth=datetime.date(1990, 1, 1),
    )
    services.enrollment_create(actor=admissions, patient=patient, program=hostile, start_date=TODAY)
    login(client, supervisor)
    for url in (CENSUS, STEP_DOWN):
        text = client.get(url).content.decode()
        assert "<script>alert(1)" not in text
        assert "<b>Eve</b>" not in text
        assert "<i>Quill</i>" not in text


def test_the_step_down_board_draws_a_bar_per_patient(
    client, clinician, admissions, clinic, house, evening
):
    for name in ("Ames", "Bell"):
        patient = PatientFactory(
            clinic=clinic,
            actor=admissions,
            last_name=name,
            first_name="Noor",
            date_of_birth=datetime.date(1988, 5, 6),
        )
        services.enrollment_create(
            actor=admissions,
            patient=patient,
            program=evening,
            start_date=TODAY - datetime.timedelta(days=10),
        )
    text = login(client, clinician).get(STEP_DOWN).content.decode()
    chart = text[text.index('class="step-down-chart"') : text.index("</figure>")]
    assert chart.count("<g><title>") == 2
    assert "Ames, Noor: day 10 of" in chart
    assert "Bell, Noor: day 10 of" in chart
