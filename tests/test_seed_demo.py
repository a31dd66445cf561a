import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from clinic.models import Clinic, ClinicMembership

pytestmark = pytest.mark.django_db


def test_seed_creates_the_demo_clinic_and_its_staff_users(settings):
    settings.DEBUG = True
    settings.DEMO_PASSWORD = "demo-pass-123"

    call_command("seed_demo")

    clinic = Clinic.objects.get(name="Demo Recovery Center")
    assert clinic.time_zone == "America/New_York"
    User = get_user_model()
    assert User.objects.get(username="admin").is_superuser
    for role in ("admissions", "clinician", "supervisor", "utilization_review"):
        user = User.objects.get(username=role)
        assert list(user.groups.values_list("name", flat=True)) == [role]
        assert user.check_password("demo-pass-123")
        assert ClinicMembership.objects.filter(user=user, clinic=clinic).exists()


def test_seed_is_idempotent(settings):
    settings.DEBUG = True

    call_command("seed_demo")
    call_command("seed_demo")

    assert Clinic.objects.count() == 1
    assert get_user_model().objects.count() == 5
    assert ClinicMembership.objects.count() == 5


def test_seed_refuses_with_debug_off_unless_forced(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")
    assert not Clinic.objects.exists()

    call_command("seed_demo", force=True)
    assert Clinic.objects.count() == 1


def test_seed_has_patients_at_every_intake_stage(settings):
    from patients.models import Assessment, Patient

    settings.DEBUG = True

    call_command("seed_demo")
    call_command("seed_demo")

    # Eight registered, one admitted from an inquiry, one discharged with follow-up calls.
    assert Patient.objects.count() == 10
    recommended = set(Assessment.objects.values_list("recommended_level", flat=True))
    assert recommended == {"residential", "php", "iop", "outpatient"}
    assert set(
        Assessment.objects.filter(recommended_level="iop").values_list(
            "recommended_track", flat=True
        )
    ) == {"day", "evening"}
    assert Assessment.objects.filter(decided_at__isnull=True).exists()  # awaiting a decision
    assert Assessment.objects.exclude(override_reason="").exists()  # an override with reason
    assert Patient.objects.filter(assessments__isnull=True).exists()  # not yet assessed


def test_seed_has_programs_and_every_path_of_care_with_room_to_admit(settings):
    from django.utils import timezone

    from programs.models import AftercarePlan, Enrollment, Program, Transition
    from programs.selectors import program_free_places

    settings.DEBUG = True

    call_command("seed_demo")
    call_command("seed_demo")

    levels = {(p.level, p.track) for p in Program.objects.all()}
    assert {("residential", ""), ("iop", "day"), ("iop", "evening"), ("outpatient", "")} <= levels
    statuses = set(Enrollment.objects.values_list("status", flat=True))
    assert statuses == {"admitted", "waitlisted", "discharged"}
    assert Transition.objects.filter(kind="step_down").count() == 1
    assert AftercarePlan.objects.filter(status="active").count() == 1
    # Three weeks of history with attendance, and the horizon ahead.
    from scheduling.models import Attendance, Session

    assert Session.objects.filter(program__name="IOP Evening Track").count() > 20
    assert Attendance.objects.filter(status="present").exists()
    assert Attendance.objects.filter(status="absent").exists()
    # A new admission always fits on a fresh demo (API.md).
    for name in ["Residential", "IOP Day Track", "IOP Evening Track"]:
        program = Program.objects.get(name=name)
        assert program_free_places(program, timezone.localdate(timezone=program.clinic.zone)) >= 2


def test_the_demo_has_covered_self_pay_and_denied_then_appealed_patients(settings):
    from django.utils import timezone

    from programs.models import Authorization, ConcurrentReview, Coverage, Payer
    from programs.selectors import authorization_use

    settings.DEBUG = True

    call_command("seed_demo")
    call_command("seed_demo")  # idempotent: nothing twice

    assert sorted(Payer.objects.values_list("kind", flat=True)) == sorted(
        ["commercial", "medicaid", "medicare", "self_pay", "other"]
    )
    assert Coverage.objects.count() == 6  # and the verified benefits of the admitted inquiry
    assert Authorization.objects.count() == 3
    use = {
        a.patient.last_name: a
        for a in authorization_use(
            Authorization.objects.select_related("patient"), now=timezone.now()
        )
    }
    # A covered residential stay: 7 + 7 days approved, all but one used (admitted 12 days ago).
    stay = use["Reyes"]
    assert (stay.payer.kind, stay.status, stay.unit) == ("commercial", "approved", "days")
    assert (stay.units_approved, stay.units_used, stay.units_remaining) == (14, 13, 1)
    assert stay.reviews.filter(done_on__isnull=True).count() == 1  # the next one, booked
    # IOP sessions counted from attendance.
    sessions = use["Patel"]
    assert (sessions.unit, sessions.units_approved) == ("sessions", 12)
    assert sessions.units_used > 0
    # Self-pay: covered, no authorization.
    silva = Coverage.objects.get(patient__last_name="Silva")
    assert silva.payer.kind == "self_pay"
    assert not Authorization.objects.filter(patient__last_name="Silva").exists()
    # Denied at a concurrent review (the payer recommending IOP), then an appeal approved more.
    appealed = use["Chen"]
    denial, appeal = ConcurrentReview.objects.filter(
        authorization=appealed, done_on__isnull=False
    ).order_by("scheduled_on")
    assert (denial.kind, denial.outcome, denial.payer_recommended_level) == (
        "concurrent",
        "denied",
        "iop",
    )
    assert (appeal.kind, appeal.outcome, appeal.units_added) == ("appeal", "approved_more", 5)
    assert (appealed.status, appealed.units_approved) == ("approved", 10)
    assert appealed.next_review_on is not None
    # The demo's utilization reviewer did the reviews.
    reviewer = get_user_model().objects.get(username="utilization_review")
    assert set(ConcurrentReview.objects.values_list("created_by", flat=True)) == {reviewer.pk}


def test_the_demo_staff_sign_in_with_the_documented_authenticator_key(settings):
    from django_otp.oath import totp
    from rest_framework.test import APIClient

    from clinic.demo import DEMO_TOTP_KEY, demo_otpauth_uri, demo_totp_secret

    settings.DEBUG = True
    settings.DEMO_PASSWORD = "demo-pass-123"
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent: still one authenticator each

    # The key an authenticator app is given (README, the `make run` banner): RFC 6238's.
    assert demo_totp_secret() == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert f"secret={demo_totp_secret()}" in demo_otpauth_uri()
    code = f"{totp(bytes.fromhex(DEMO_TOTP_KEY)):06d}"
    for username in ("admin", "admissions", "clinician", "supervisor", "utilization_review"):
        user = get_user_model().objects.get(username=username)
        assert user.totpdevice_set.filter(confirmed=True).count() == 1
        response = APIClient().post(
            "/api/v1/auth/token/",
            {"username": username, "password": "demo-pass-123", "otp": code},
        )
        assert response.status_code == 200, response.content


def test_the_make_run_banner_gives_the_demo_authenticator_key(settings):
    import io

    from clinic.demo import demo_otpauth_uri
    from clinic.management.commands.serve import Command

    settings.DEBUG = True
    settings.STAFF_MFA_REQUIRED = False
    out = io.StringIO()

    Command(stdout=out)._print_banner(8000)

    assert "Two-factor   off (STAFF_MFA_REQUIRED=1)" in out.getvalue()
    assert "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" in out.getvalue()
    assert demo_otpauth_uri() in out.getvalue()


def test_the_demo_has_an_inquiry_at_every_stage_of_the_admissions_pipeline(settings):
    from clinic.models import StaffAlert
    from programs.models import AdmissionHold, Inquiry

    settings.DEBUG = True

    call_command("seed_demo")
    call_command("seed_demo")  # idempotent: nothing twice

    assert sorted(Inquiry.objects.values_list("status", flat=True)) == sorted(
        ["new", "screening", "verifying", "scheduled", "scheduled", "admitted", "not_admitted"]
    )
    admitted = Inquiry.objects.get(status="admitted")
    assert admitted.enrollment.status == "admitted"
    assert admitted.patient.coverages.get().payer.kind == "commercial"
    assert admitted.holds.get().status == "converted"
    holds = AdmissionHold.objects.filter(status="held").select_related("program")
    assert sorted((h.program.name, h.bed_id is not None) for h in holds) == [
        ("IOP Day Track", False),
        ("Residential", True),
    ]
    assert Inquiry.objects.get(status="not_admitted").not_admitted_reason == "chose_elsewhere"
    assert StaffAlert.objects.filter(kind="withdrawal_risk").count() == 1


def test_the_demo_has_measures_on_file_for_the_boards_trends(settings):
    from programs.models import MeasureResponse

    settings.DEBUG = True

    call_command("seed_demo")
    call_command("seed_demo")  # idempotent: nothing twice

    avery = MeasureResponse.objects.filter(patient__last_name="Patel", instrument="phq9")
    assert list(avery.order_by("completed_at").values_list("total", "band")) == [
        (13, "moderate"),
        (6, "mild"),
    ]
    assert MeasureResponse.objects.count() == 4
    assert not MeasureResponse.objects.filter(alert__isnull=False).exists()


def test_the_demo_has_a_discharge_with_follow_ups_done_open_and_overdue(settings):
    from django.utils import timezone

    from programs.models import FollowUpTask

    settings.DEBUG = True

    call_command("seed_demo")
    call_command("seed_demo")  # idempotent: nothing twice

    tasks = FollowUpTask.objects.filter(patient__last_name="Ellis").order_by("due_date")
    today = tasks[0].enrollment.program.clinic.today(timezone.now())
    assert [(t.days_after_discharge, t.outcome, t.attempts.count()) for t in tasks] == [
        (2, "reached_well", 2),
        (7, "", 0),
        (30, "", 0),
    ]
    assert tasks[1].due_date < today < tasks[2].due_date
