"""The admin in a real browser: Playwright for Python driving Debian's Chromium.

The admissions path from the patient's page (register, consent, assessment with its
recommendation and rationale, admit to residential, assign a bed), the census changing with it,
a clinician's step-down to IOP, and the boards' screenshots (tests/e2e/screenshots/, git-ignored).
The data is the demo clinic of `make run` (`manage.py seed_demo`), served by pytest-django's
live server. `make install` installs Debian's chromium package (CHROMIUM overrides the binary).
"""

import datetime
import os
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_otp.oath import totp
from playwright import sync_api
from rest_framework.test import APIClient

from clinic.demo import DEMO_TOTP_KEY
from patients.models import Patient
from programs.models import Enrollment, EnrollmentStatus, Program
from tests.factories import PatientFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
PASSWORD = "browser-demo-password"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium package")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # synchronous and safe here (Django refuses them inside a running loop unless told).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",  # CI runs as root
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--disable-sync",
                "--no-first-run",
                "--disable-dev-shm-usage",
            ],
        )
        yield chromium
        chromium.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def demo(settings):
    settings.DEBUG = True
    settings.DEMO_PASSWORD = PASSWORD
    call_command("seed_demo", verbosity=0)


@pytest.fixture
def page(browser, live_server, demo):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1400, "height": 1000}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def log_in(page, username: str) -> None:
    page.context.clear_cookies()
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    # Two-factor sign-in is on (DEBUG off): the code an authenticator app with the demo key shows.
    page.fill("#id_otp_token", f"{totp(bytes.fromhex(DEMO_TOTP_KEY)):06d}")
    page.click("input[type=submit]")
    sync_api.expect(page.locator("#user-tools")).to_contain_text(username)


def save(page) -> None:
    page.click("input[name=_save]")


def success_message(page):
    return page.locator("ul.messagelist li.success")


def bed_summary(page) -> str:
    page.goto("/admin/")
    page.click("#boards a:text('Census')")
    return page.locator("#content-main > p").first.inner_text()


def test_admissions_path_census_and_step_down_in_a_browser(page):
    residential = Program.objects.get(name="Residential")
    iop = Program.objects.get(name="IOP Evening Track")

    log_in(page, "admissions")
    beds_before = bed_summary(page)
    free_before = int(re.search(r"(\d+) free", beds_before).group(1))

    # Register.
    page.goto("/admin/patients/patient/add/")
    page.select_option("#id_clinic", label="Demo Recovery Center")
    page.fill("#id_first_name", "Robin")
    page.fill("#id_last_name", "Quayle")
    page.fill("#id_date_of_birth", "1990-04-02")
    page.fill("#id_email", "robin.quayle@example.org")
    page.fill("#id_phone", "+12025550177")
    page.check("#id_reminder_channels_0")
    save(page)
    sync_api.expect(success_message(page)).to_contain_text("Quayle")
    patient = Patient.objects.get(last_name="Quayle")
    assert page.url.endswith(f"/admin/patients/patient/{patient.pk}/change/")
    patient_url = page.url

    # Consent (42 CFR Part 2).
    page.click("text=Record a consent")
    page.fill("#id_discloser", "Demo Recovery Center")
    page.fill("#id_information", "Dates of attendance")
    page.fill("#id_recipients", "Primary care physician")
    page.fill("#id_purpose", "Coordination of care")
    page.fill("#id_recipient_names", "Primary care physician")
    page.check("#id_purposes input[value=treatment]")
    page.check("#id_categories input[value=attendance]")
    page.fill("#id_signed_on", "2026-11-20")
    page.fill("#id_expiry_event", "End of treatment")
    page.select_option("#id_treatment_conditioned", "no")
    save(page)
    assert page.url == patient_url
    sync_api.expect(page.locator(".field-consents_table")).to_contain_text("Primary care physician")

    # Assessment: the recommendation and its rationale on the patient's page.
    page.click("text=Record an assessment")
    page.fill("#id_criteria_count", "7")
    for dimension, rating in zip(
        ("d1", "d2", "d3", "d4", "d5", "d6"), (3, 1, 2, 2, 3, 2), strict=True
    ):
        page.fill(f"#id_{dimension}", str(rating))
    save(page)
    assert page.url == patient_url
    assessments = page.locator(".field-assessments_table")
    sync_api.expect(assessments).to_contain_text("Residential")
    sync_api.expect(assessments).to_contain_text("Withdrawal risk is high")
    admission = page.locator(".field-admission_links")
    sync_api.expect(admission).to_contain_text("Level recommended: Residential")

    # Admit to residential from the link the recommendation offers.
    admission.locator("a.admit-link", has_text="Residential").click()
    assert page.input_value("#id_program") == str(residential.pk)
    save(page)
    assert page.url == patient_url
    care = page.locator(".field-care_table")
    sync_api.expect(care).to_contain_text("Admitted")
    enrollment = Enrollment.objects.get(patient=patient, program=residential)
    assert enrollment.status == EnrollmentStatus.ADMITTED

    # Assign a bed, and come back to the patient.
    care.locator("a.step-bed").click()
    free_bed = page.locator("#id_bed option", has_text="(free)").first
    bed_label = free_bed.inner_text().removesuffix(" (free)")
    page.select_option("#id_bed", value=free_bed.get_attribute("value"))
    page.click("input[type=submit][value='Assign the bed']")
    assert page.url == patient_url
    sync_api.expect(success_message(page)).to_contain_text("is in bed")
    sync_api.expect(care).to_contain_text(bed_label)

    # The census changed: one bed fewer free, and the patient is on the bed board.
    beds_after = bed_summary(page)
    assert int(re.search(r"(\d+) free", beds_after).group(1)) == free_before - 1
    sync_api.expect(page.locator("#bed-board")).to_contain_text("Quayle, Robin")
    chart = page.locator(f"figure.census-program[data-program='{residential.pk}'] svg")
    sync_api.expect(chart).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "census.png", full_page=True)

    # A clinician steps the patient down to IOP.
    log_in(page, "clinician")
    page.goto(patient_url)
    page.locator(".field-care_table a.step-transition").click()
    page.select_option("#id_to_program", value=str(iop.pk))
    page.select_option("#id_kind", value="step_down")
    page.fill("#id_reason", "Stable for two weeks; ready for evening IOP.")
    page.click("input[type=submit][value='Move the patient']")
    assert page.url == patient_url
    sync_api.expect(success_message(page)).to_contain_text("IOP Evening Track")
    care = page.locator(".field-care_table")
    sync_api.expect(care).to_contain_text("IOP Evening Track")
    sync_api.expect(care).to_contain_text("Discharged")
    assert Enrollment.objects.get(patient=patient, program=iop).status == EnrollmentStatus.ADMITTED
    page.screenshot(path=SCREENSHOTS / "patient.png", full_page=True)

    # The step-down board shows the patient in IOP, with its chart.
    page.goto("/admin/")
    page.click("#boards a:text('Step-down board')")
    board = page.locator("table.step-down")
    sync_api.expect(board).to_contain_text("Quayle, Robin")
    sync_api.expect(page.locator("figure.step-down-chart svg")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "step_down.png", full_page=True)

    # The bed went with the residential stay.
    sync_api.expect(page.locator("body")).not_to_contain_text("Traceback")
    assert int(re.search(r"(\d+) free", bed_summary(page)).group(1)) == free_before


def test_the_admin_refuses_an_over_capacity_admission_with_the_services_message(page):
    residential = Program.objects.get(name="Residential")
    admissions = get_user_model().objects.get(username="admissions")
    patient = PatientFactory(
        clinic=residential.clinic, actor=admissions, first_name="Ola", last_name="Overflow"
    )
    occupied = Enrollment.objects.filter(
        program=residential, status=EnrollmentStatus.ADMITTED
    ).count()
    Program.objects.filter(pk=residential.pk).update(capacity=occupied)
    today = residential.clinic.today()

    # What the API answers to the same admission.
    api = APIClient()
    api.force_authenticate(admissions)
    refusal = api.post(
        "/api/v1/enrollments/",
        {
            "patient": patient.pk,
            "program": residential.pk,
            "start_date": today.isoformat(),
        },
        format="json",
    )
    assert refusal.status_code == 409, refusal.content
    message = refusal.json()["detail"]

    log_in(page, "admissions")
    page.goto(f"/admin/programs/enrollment/add/?patient={patient.pk}&program={residential.pk}")
    page.fill("#id_start_date", today.isoformat())
    save(page)
    sync_api.expect(page.locator(".errornote")).to_be_visible()
    sync_api.expect(page.locator("#content-main")).to_contain_text(message)
    assert not Enrollment.objects.filter(patient=patient).exists()


def test_utilization_review_books_a_review_and_records_more_days_in_a_browser(page):
    from programs.models import Authorization

    authorization = Authorization.objects.get(patient__last_name="Reyes")
    today = authorization.enrollment.program.clinic.today()
    extended_end = authorization.end_date + datetime.timedelta(days=7)

    log_in(page, "utilization_review")
    page.goto("/admin/programs/authorization/?status__exact=approved")
    page.click("#result_list a:text('Reyes')")
    assert f"/admin/programs/authorization/{authorization.pk}/change/" in page.url
    remaining = page.locator(".field-units_remaining .readonly")
    sync_api.expect(remaining).to_have_text("1")
    sync_api.expect(page.locator(".field-levels .readonly")).to_have_text(
        "Residential / Residential"
    )

    page.click(".object-tools a:text('Schedule a review')")
    page.select_option("#id_kind", "concurrent")
    page.fill("#id_scheduled_on", today.isoformat())
    page.fill("#id_reviewer", "J. Alvarado, RN")
    page.click("input[type=submit][value='Schedule']")
    sync_api.expect(success_message(page)).to_contain_text("Concurrent review scheduled")

    page.click('.object-tools a:text("Record a review\'s outcome")')
    page.select_option("#id_review", label=f"Concurrent review on {today}")
    page.select_option("#id_outcome", "approved_more")
    page.fill("#id_units_added", "7")
    page.fill("#id_end_date", extended_end.isoformat())
    page.click("input[type=submit][value='Record the outcome']")
    sync_api.expect(success_message(page)).to_contain_text("approved more units: 7 more")

    sync_api.expect(remaining).to_have_text("8")
    sync_api.expect(page.locator(".field-reviews_table")).to_contain_text("J. Alvarado, RN")
    page.screenshot(path=SCREENSHOTS / "authorization.png", full_page=True)
    authorization.refresh_from_db()
    assert (authorization.units_approved, authorization.end_date) == (21, extended_end)
    # The review already booked for tomorrow stays the next one.
    assert authorization.next_review_on == today + datetime.timedelta(days=1)


def test_an_inquiry_from_the_first_call_to_the_admission_in_a_browser(page):
    from programs.models import Inquiry, InquiryStatus

    iop = Program.objects.get(name="IOP Day Track")
    today = iop.clinic.today()

    log_in(page, "admissions")
    # The first call: a mother calls about her son, found online.
    page.goto("/admin/programs/inquiry/add/")
    page.select_option("#id_clinic", label="Demo Recovery Center")
    page.fill("#id_first_name", "Emery")
    page.fill("#id_last_name", "Castellanos")
    page.fill("#id_date_of_birth", "1996-08-14")
    page.fill("#id_phone", "+12025550188")
    page.select_option("#id_caller_relation", "parent")
    page.fill("#id_caller_name", "Ines Castellanos")
    page.select_option("#id_referral_source", label="Online")
    page.fill("#id_substances", "Alcohol most days, pills at weekends")
    page.check("#id_callback_consent")
    page.select_option("#id_callback_method", "phone")
    save(page)
    sync_api.expect(success_message(page)).to_contain_text("was added successfully")
    inquiry = Inquiry.objects.get(last_name="Castellanos")
    inquiry_url = f"/admin/programs/inquiry/{inquiry.pk}/change/"
    page.goto(inquiry_url)

    # Screen on the phone: the provisional level from the assessment's rule.
    page.click(".object-tools a:text('Screen')")
    page.fill("#id_criteria_count", "4")
    for dimension, rating in zip(
        ("d1", "d2", "d3", "d4", "d5", "d6"), (1, 1, 1, 2, 2, 1), strict=True
    ):
        page.fill(f"#id_{dimension}", str(rating))
    page.check("#id_daytime_obligations")
    page.click("input[type=submit][value='Record the screening']")
    sync_api.expect(success_message(page)).to_contain_text("Screened: provisional level")

    # Verify benefits with the commercial payer.
    page.click(".object-tools a:text('Verify benefits')")
    page.select_option("#id_payer", label="Harborview Health Plan")
    page.fill("#id_member_id", "HHP-20931")
    page.select_option("#id_level", "iop")
    page.select_option("#id_in_network", "true")
    page.fill("#id_deductible_remaining", "250.00")
    page.select_option("#id_outcome", "eligible")
    page.click("input[type=submit][value='Record the verification']")
    sync_api.expect(success_message(page)).to_contain_text("Benefits verified")

    # Schedule the admission today in the day IOP track: a place is held.
    page.click(".object-tools a:text('Schedule admission')")
    page.select_option("#id_program", value=str(iop.pk))
    page.fill("#id_admission_date", today.isoformat())
    page.click("input[type=submit][value='Hold the place']")
    sync_api.expect(success_message(page)).to_contain_text("IOP Day Track is held from")
    sync_api.expect(page.locator(".field-holds_table")).to_contain_text("Held")

    # The person arrives: admit them into the held place.
    page.click(".object-tools a:text('Admit')")
    clinician = get_user_model().objects.get(username="clinician")
    page.select_option("#id_primary_clinician", value=str(clinician.pk))
    page.click("input[type=submit][value='Admit into the held place']")
    sync_api.expect(success_message(page)).to_contain_text("is admitted to IOP Day Track")
    page.screenshot(path=SCREENSHOTS / "inquiry.png", full_page=True)

    inquiry.refresh_from_db()
    assert inquiry.status == InquiryStatus.ADMITTED
    assert inquiry.enrollment.program == iop
    assert inquiry.enrollment.status == EnrollmentStatus.ADMITTED
    assert inquiry.patient.last_name == "Castellanos"
    assert inquiry.patient.coverages.get().member_id == "HHP-20931"
    assert list(inquiry.status_changes.values_list("to_status", flat=True)) == [
        "new",
        "screening",
        "verifying",
        "scheduled",
        "admitted",
    ]
