"""What the modules of access_walk/ share: constants and helpers."""

import contextlib
import datetime
from unittest import mock

from django.conf import settings
from django.db import transaction
from django.test import override_settings
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from django.utils.module_loading import import_string
from drf_spectacular.generators import SchemaGenerator
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient
from rest_framework.views import APIView

from clinic.demo import seed_demo_clinic
from clinic.models import AlertKind, AuditEvent, Room
from clinic.services import alert_raise
from config.settings.base import rest_renderer_classes
from patients.demo import seed_demo_patients
from patients.models import Patient
from programs.demo import seed_demo_enrollments, seed_demo_follow_ups
from programs.models import (
    DischargeSummary,
    Enrollment,
    FollowUpTask,
    Inquiry,
    MeasureSchedule,
    Program,
    ProgressNote,
    ReferralSource,
    Transition,
)
from programs.services import aftercare, authorizations, disclosures, inquiries, measures
from scheduling.models import Device, Reminder, RosterEntry, Series, Session
from tests.factories import (
    ClinicFactory,
    ProgramFactory,
    UserFactory,
    referral_source,
    staff_user,
)

ADM, CLIN, SUP, PATIENT = "admissions", "clinician", "supervisor", "patient"
UR = "utilization_review"
AC = "alumni_coordinator"
# Every staff role the walk calls as, of clinic A and of clinic B.
STAFF_ROLES = (ADM, CLIN, SUP, UR, AC)

# Clinic B's objects have ids far above any that clinic A's data gets, so one found in a page is
# B's and never a coincidence with one of A's; a missing id is above them all.
OUTSIDE_IDS = {
    "clinic": 7310001,
    ADM: 7320001,
    CLIN: 7320002,
    SUP: 7320003,
    UR: 7320004,
    AC: 7320005,
    "patient": 7330001,
    "program": 7340001,
    "enrollment": 7350001,
    "room": 7360001,
    "series": 7370001,
    "session": 7380001,
    "inquiry": 7390001,
    "referral_source": 7390002,
    "measure_schedule": 7390003,
}
MISSING_ID = 7399999
OUTSIDE_NAMES = ("Zebulon", "Quixworthy")
OUTSIDE_MRN = "QX-90417"
STAFF = frozenset(STAFF_ROLES)
ME = frozenset({PATIENT})
PUBLIC = "public"

# (method, path) -> who may use it. Mirrors README's role table.
MATRIX = {
    ("GET", "/api/v1/clinics/"): STAFF,
    ("GET", "/api/v1/clinics/{id}/"): STAFF,
    ("GET", "/api/v1/audit-events/"): {SUP},
    ("GET", "/api/v1/audit-events/{id}/"): {SUP},
    ("GET", "/api/v1/patients/"): STAFF,
    ("POST", "/api/v1/patients/"): {ADM, CLIN},
    ("GET", "/api/v1/patients/{id}/"): STAFF,
    ("PATCH", "/api/v1/patients/{id}/"): {ADM, CLIN},
    ("POST", "/api/v1/patients/{id}/activation/"): {ADM},
    ("POST", "/api/v1/patients/{id}/app-access/revoke/"): {ADM, SUP},
    ("GET", "/api/v1/patients/{id}/assessments/"): STAFF,
    ("GET", "/api/v1/patients/{id}/consents/"): STAFF,
    ("POST", "/api/v1/patients/{id}/consents/"): {ADM, CLIN},
    ("POST", "/api/v1/patients/{id}/consents/{consent_id}/revoke/"): {ADM, CLIN},
    ("GET", "/api/v1/patients/{id}/contacts/"): STAFF,
    ("POST", "/api/v1/patients/{id}/contacts/"): {ADM, CLIN},
    ("GET", "/api/v1/patients/{id}/contacts/{contact_id}/"): STAFF,
    ("PATCH", "/api/v1/patients/{id}/contacts/{contact_id}/"): {ADM, CLIN},
    ("DELETE", "/api/v1/patients/{id}/contacts/{contact_id}/"): {ADM, CLIN},
    ("GET", "/api/v1/patients/{id}/disclosures/"): STAFF,
    ("POST", "/api/v1/patients/{id}/disclosures/"): {ADM, CLIN},
    ("GET", "/api/v1/disclosures/{id}/bundle/"): STAFF,
    ("GET", "/api/v1/assessments/"): STAFF,
    ("POST", "/api/v1/assessments/"): {ADM, CLIN},
    ("GET", "/api/v1/assessments/{id}/"): STAFF,
    ("PATCH", "/api/v1/assessments/{id}/"): {ADM, CLIN},
    ("GET", "/api/v1/programs/"): STAFF,
    ("GET", "/api/v1/programs/{id}/"): STAFF,
    ("GET", "/api/v1/enrollments/"): STAFF,
    ("POST", "/api/v1/enrollments/"): {ADM},
    ("GET", "/api/v1/enrollments/{id}/"): STAFF,
    ("POST", "/api/v1/enrollments/{id}/admit/"): {ADM},
    ("POST", "/api/v1/enrollments/{id}/bed/"): {ADM},
    ("POST", "/api/v1/enrollments/{id}/cancel/"): {ADM},
    ("POST", "/api/v1/enrollments/{id}/discharge/"): {ADM, CLIN},
    ("POST", "/api/v1/enrollments/{id}/transition/"): {CLIN},
    ("GET", "/api/v1/transitions/"): STAFF,
    ("GET", "/api/v1/transitions/{id}/"): STAFF,
    ("GET", "/api/v1/aftercare-plans/"): STAFF,
    ("POST", "/api/v1/aftercare-plans/"): {CLIN},
    ("GET", "/api/v1/aftercare-plans/{id}/"): STAFF,
    ("PATCH", "/api/v1/aftercare-plans/{id}/"): {CLIN},
    ("GET", "/api/v1/aftercare-plans/{id}/check-ins/"): STAFF,
    ("POST", "/api/v1/aftercare-plans/{id}/check-ins/"): {ADM, CLIN, SUP, AC},
    ("GET", "/api/v1/aftercare-plans/{id}/goals/"): STAFF,
    ("POST", "/api/v1/aftercare-plans/{id}/goals/"): {CLIN},
    ("GET", "/api/v1/aftercare-plans/{id}/goals/{goal_id}/"): STAFF,
    ("PATCH", "/api/v1/aftercare-plans/{id}/goals/{goal_id}/"): {CLIN},
    ("GET", "/api/v1/aftercare-plans/{id}/items/"): STAFF,
    ("POST", "/api/v1/aftercare-plans/{id}/items/"): {CLIN},
    ("DELETE", "/api/v1/aftercare-plans/{id}/items/{item_id}/"): {CLIN},
    ("GET", "/api/v1/payers/"): STAFF,
    ("GET", "/api/v1/payers/{id}/"): STAFF,
    ("GET", "/api/v1/patients/{id}/coverages/"): STAFF,
    ("POST", "/api/v1/patients/{id}/coverages/"): {ADM, UR},
    ("GET", "/api/v1/coverages/{id}/"): STAFF,
    ("PATCH", "/api/v1/coverages/{id}/"): {ADM, UR},
    ("GET", "/api/v1/authorizations/"): STAFF,
    ("POST", "/api/v1/authorizations/"): {ADM, UR},
    ("GET", "/api/v1/authorizations/{id}/"): STAFF,
    ("POST", "/api/v1/authorizations/{id}/decide/"): {ADM, UR},
    ("GET", "/api/v1/authorizations/{id}/reviews/"): STAFF,
    ("POST", "/api/v1/authorizations/{id}/reviews/"): {ADM, UR},
    ("POST", "/api/v1/authorizations/{id}/reviews/{review_id}/record/"): {ADM, UR},
    ("GET", "/api/v1/ur/queue/"): {UR, SUP},
    ("GET", "/api/v1/inquiries/"): STAFF,
    ("POST", "/api/v1/inquiries/"): {ADM},
    ("GET", "/api/v1/inquiries/{id}/"): STAFF,
    ("PATCH", "/api/v1/inquiries/{id}/"): {ADM},
    ("POST", "/api/v1/inquiries/{id}/screenings/"): {ADM, CLIN, SUP},
    ("POST", "/api/v1/inquiries/{id}/verifications/"): {ADM, UR},
    ("POST", "/api/v1/inquiries/{id}/contacts/"): {ADM},
    ("POST", "/api/v1/inquiries/{id}/schedule/"): {ADM},
    ("POST", "/api/v1/inquiries/{id}/close/"): {ADM},
    ("POST", "/api/v1/inquiries/{id}/convert/"): {ADM},
    ("GET", "/api/v1/inquiries/{id}/callback-requests/"): STAFF,
    ("POST", "/api/v1/inquiries/{id}/callback-requests/"): {ADM},
    # Measurement-based care: every staff role reads; clinicians and supervisors record and
    # order; supervisors set the programs' schedules.
    ("GET", "/api/v1/measures/"): STAFF,
    ("POST", "/api/v1/measures/"): {CLIN, SUP},
    ("GET", "/api/v1/measures/{id}/"): STAFF,
    ("GET", "/api/v1/discharge-summaries/"): STAFF,
    ("GET", "/api/v1/discharge-summaries/{id}/"): STAFF,
    ("PATCH", "/api/v1/discharge-summaries/{id}/"): {CLIN, SUP},
    ("POST", "/api/v1/discharge-summaries/{id}/sign/"): {CLIN, SUP},
    ("POST", "/api/v1/discharge-summaries/{id}/addenda/"): {CLIN, SUP},
    ("GET", "/api/v1/discharge-summaries/{id}/pdf/"): STAFF,
    ("GET", "/api/v1/me/discharge-summary/"): ME,
    ("GET", "/api/v1/me/discharge-summary/pdf/"): ME,
    ("GET", "/api/v1/measure-orders/"): STAFF,
    ("POST", "/api/v1/measure-orders/"): {CLIN, SUP},
    ("GET", "/api/v1/measure-orders/{id}/"): STAFF,
    ("POST", "/api/v1/measure-orders/{id}/stop/"): {CLIN, SUP},
    ("GET", "/api/v1/measure-schedules/"): STAFF,
    ("POST", "/api/v1/measure-schedules/"): {SUP},
    ("GET", "/api/v1/measure-schedules/{id}/"): STAFF,
    ("PATCH", "/api/v1/measure-schedules/{id}/"): {SUP},
    ("DELETE", "/api/v1/measure-schedules/{id}/"): {SUP},
    ("GET", "/api/v1/referral-sources/"): STAFF,
    # Follow-up after discharge: every staff role reads the queue; the walk's task is the
    # alumni coordinators', so they, clinicians and supervisors work it.
    ("GET", "/api/v1/follow-up-tasks/"): STAFF,
    ("GET", "/api/v1/follow-up-tasks/{id}/"): STAFF,
    ("POST", "/api/v1/follow-up-tasks/{id}/attempts/"): {CLIN, SUP, AC},
    ("POST", "/api/v1/follow-up-tasks/{id}/complete/"): {CLIN, SUP, AC},
    # Progress notes: the care team and supervisors read (others: an empty list, 404); the
    # walk's note is the clinician's, so they and supervisors write (bodies invalid: 400).
    ("GET", "/api/v1/progress-notes/"): STAFF,
    ("GET", "/api/v1/progress-notes/{id}/"): STAFF,
    ("PATCH", "/api/v1/progress-notes/{id}/"): {CLIN, SUP},
    ("POST", "/api/v1/progress-notes/{id}/sign/"): {CLIN, SUP},
    ("POST", "/api/v1/progress-notes/{id}/cosign/"): {CLIN, SUP},
    ("POST", "/api/v1/progress-notes/{id}/addenda/"): {CLIN, SUP},
    ("GET", "/api/v1/sessions/{id}/group-note/"): {CLIN, SUP},
    ("PUT", "/api/v1/sessions/{id}/group-note/"): {CLIN, SUP},
    ("POST", "/api/v1/sessions/{id}/progress-notes/"): {CLIN, SUP},
    ("GET", "/api/v1/alerts/"): STAFF,
    # The walk's alert is addressed to clinicians: another role's staff get 404 (not theirs).
    ("GET", "/api/v1/alerts/{id}/"): STAFF,
    ("POST", "/api/v1/alerts/{id}/acknowledge/"): STAFF,
    ("GET", "/api/v1/reports/census/"): STAFF,
    ("GET", "/api/v1/reports/step-down/"): STAFF,
    ("GET", "/api/v1/reports/admissions/"): {ADM, SUP},
    ("GET", "/api/v1/reports/outcomes/"): {CLIN, SUP},
    ("GET", "/api/v1/reports/continuity/"): STAFF,
    # Progress notes due (issue 26): the writers of notes and their supervisors.
    ("GET", "/api/v1/notes-due/"): {CLIN, SUP},
    ("GET", "/api/v1/sessions/"): STAFF,
    ("POST", "/api/v1/sessions/"): {CLIN, SUP},
    ("GET", "/api/v1/sessions/{id}/"): STAFF,
    ("PATCH", "/api/v1/sessions/{id}/"): {CLIN, SUP},
    ("POST", "/api/v1/sessions/{id}/cancel/"): {CLIN, SUP},
    ("GET", "/api/v1/sessions/{id}/attendance/"): STAFF,
    ("POST", "/api/v1/sessions/{id}/attendance/"): STAFF,
    ("GET", "/api/v1/series/"): STAFF,
    ("POST", "/api/v1/series/"): {CLIN, SUP},
    ("GET", "/api/v1/series/{id}/"): STAFF,
    ("GET", "/api/v1/calendar-feed/"): STAFF,
    ("POST", "/api/v1/calendar-feed/rotate/"): STAFF,
    ("GET", "/api/v1/reminders/"): STAFF,
    ("GET", "/api/v1/reminders/{id}/"): STAFF,
    ("POST", "/api/v1/reminders/{id}/retry/"): {ADM, SUP},
    ("GET", "/api/v1/me/"): ME,
    ("GET", "/api/v1/me/schedule/"): ME,
    ("POST", "/api/v1/me/sessions/{id}/confirm/"): ME,
    ("POST", "/api/v1/me/sessions/{id}/decline/"): ME,
    ("GET", "/api/v1/me/enrollments/"): ME,
    ("GET", "/api/v1/me/aftercare-plan/"): ME,
    ("GET", "/api/v1/me/check-ins/"): ME,
    ("POST", "/api/v1/me/check-ins/"): ME,
    ("GET", "/api/v1/me/measures/"): ME,
    ("POST", "/api/v1/me/measures/"): ME,
    ("GET", "/api/v1/me/preferences/"): ME,
    ("GET", "/api/v1/me/consents/"): ME,
    ("POST", "/api/v1/me/consents/{id}/revoke/"): ME,
    ("GET", "/api/v1/me/disclosures/"): ME,
    ("PATCH", "/api/v1/me/preferences/"): ME,
    ("POST", "/api/v1/me/devices/"): ME,
    ("DELETE", "/api/v1/me/devices/{id}/"): ME,
    ("GET", "/api/v1/me/calendar-feed/"): ME,
    ("POST", "/api/v1/me/calendar-feed/rotate/"): ME,
    # Public: their own tests cover them (credentials, codes, provider signatures).
    ("POST", "/api/v1/auth/token/"): PUBLIC,
    ("POST", "/api/v1/auth/token/refresh/"): PUBLIC,
    ("POST", "/api/v1/auth/activate/"): PUBLIC,
    ("POST", "/api/v1/auth/logout/"): PUBLIC,
    ("POST", "/api/v1/webhooks/sms/"): PUBLIC,
}


# Operations on an object addressed to some roles only: the others' answer is 404, as if the
# object did not exist for them (alerts go to a person or a role).
ADDRESSED_TO = {
    ("GET", "/api/v1/progress-notes/{id}/"): {CLIN, SUP},
    ("GET", "/api/v1/alerts/{id}/"): {CLIN},
    ("POST", "/api/v1/alerts/{id}/acknowledge/"): {CLIN},
}
# "My" singletons that a patient may lack: B's patient has no aftercare plan, so 404 (never A's).
OWN_SINGLETONS = {
    ("GET", "/api/v1/me/aftercare-plan/"),
    # B's patient has no signed discharge summary either.
    ("GET", "/api/v1/me/discharge-summary/"),
    ("GET", "/api/v1/me/discharge-summary/pdf/"),
}


def schema_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    )


def is_list(response_json) -> bool:
    return isinstance(response_json, dict) and "results" in response_json


def row_id(row: dict):
    """A list row's id; a census row is its program's."""
    return row["program"]["id"] if "days" in row else row.get("id")


class World:
    """Clinic A with the demo's data and its people; clinic B with staff and one patient."""

    def __init__(self):
        self.clinic = seed_demo_clinic(password="walk-pass")
        users = {u.username: u for u in UserFactory._meta.model.objects.all()}
        self.staff = {role: users[role] for role in (ADM, CLIN, SUP)}
        # The demo's roles above; utilization review works the payers' side of the same record.
        self.staff[UR] = staff_user(role=UR, clinics=[self.clinic], username="walk-ur")
        self.staff[AC] = staff_user(role=AC, clinics=[self.clinic], username="walk-alumni")
        seed_demo_patients(clinic=self.clinic, actor=self.staff[ADM])
        seed_demo_enrollments(
            clinic=self.clinic, admissions=self.staff[ADM], clinician=self.staff[CLIN]
        )
        seed_demo_follow_ups(
            clinic=self.clinic, admissions=self.staff[ADM], clinician=self.staff[CLIN]
        )
        # An open follow-up of the alumni coordinators' (the demo's are the clinician's).
        self.follow_up = FollowUpTask.objects.filter(
            patient__clinic=self.clinic, completed_at__isnull=True
        ).first()
        FollowUpTask.objects.filter(pk=self.follow_up.pk).update(assignee=None, assignee_role=AC)
        # The patient with a residential stay and sessions ahead gets the app account.
        self.patient = (
            Patient.objects.filter(clinic=self.clinic, roster_entries__isnull=False)
            .filter(roster_entries__session__starts_at__gt=timezone.now())
            .distinct()
            .first()
        )
        self.patient_user = UserFactory()
        self.patient.app_user = self.patient_user
        self.patient.save(update_fields=["app_user"])
        self.device = Device.objects.create(patient=self.patient, platform="ios", token="dev-a")
        self.entry = (
            RosterEntry.objects.filter(patient=self.patient, session__starts_at__gt=timezone.now())
            .select_related("session")
            .first()
        )
        self.session = self.entry.session
        self.reminder = Reminder.objects.filter(session__clinic=self.clinic).first() or (
            Reminder.objects.create(
                session=self.session,
                patient=self.patient,
                roster_entry=self.entry,
                offset_minutes=120,
                channel="email",
                scheduled_for=self.session.starts_at - datetime.timedelta(hours=2),
            )
        )
        self.alert = alert_raise(
            clinic_id=self.clinic.pk,
            kind=AlertKind.RISKY_CHECK_IN,
            subject=self.session,
            message="A check-in needs attention.",
            recipient_role=CLIN,
            patient_id=self.patient.pk,
        )
        self.enrollment = Enrollment.objects.filter(patient=self.patient, status="admitted").first()
        self.plan = aftercare.aftercare_plan_create(
            actor=self.staff[CLIN], enrollment=self.enrollment
        )
        aftercare.aftercare_goal_add(
            actor=self.staff[CLIN], plan=self.plan, description="Attend two meetings a week."
        )
        aftercare.aftercare_item_add(
            actor=self.staff[CLIN], plan=self.plan, kind="support_group", text="Tuesday group."
        )
        self.contact = self.patient.contacts.first() or self.patient.contacts.create(
            kind="emergency", name="Lee Lind", relationship="sister", phone="+12025550111"
        )
        self.consent = self.patient.consents.first()
        self.disclosure = disclosures.disclosure_create(
            actor=self.staff[CLIN],
            patient=self.patient,
            recipient_name="Dr. Ada Rivera",
            recipient_address="12 Elm St, Springfield",
            purpose="treatment",
            categories=["demographics", "enrollments"],
        )
        self.assessment = self.patient.assessments.first()
        self.payer = authorizations.payer_create(
            actor=self.staff[ADM], clinic=self.clinic, name="Walk Health", kind="commercial"
        )
        self.coverage = authorizations.coverage_create(
            actor=self.staff[ADM],
            patient=self.patient,
            payer=self.payer,
            start_date=self.enrollment.start_date,
        )
        self.authorization = authorizations.authorization_request(
            actor=self.staff[ADM],
            enrollment=self.enrollment,
            coverage=self.coverage,
            authorized_level=self.enrollment.level,
            units_requested=7,
            start_date=self.enrollment.start_date,
            end_date=self.enrollment.start_date + datetime.timedelta(days=6),
        )
        self.review = authorizations.review_schedule(
            actor=self.staff[ADM],
            authorization=self.authorization,
            kind="initial",
            scheduled_on=self.enrollment.start_date,
        )

        # A first call about someone not yet a patient, screened.
        self.inquiry = inquiries.inquiry_create(
            actor=self.staff[ADM],
            clinic=self.clinic,
            referral_source=referral_source(self.clinic, "hospital"),
            first_name="Jordan",
            last_name="Vale",
            allow_duplicate=True,
        )
        inquiries.inquiry_screen(
            actor=self.staff[CLIN],
            inquiry=self.inquiry,
            criteria_count=4,
            dimensions={"d1": 1, "d2": 1, "d3": 2, "d4": 2, "d5": 2, "d6": 1},
        )

        # The patient's own PHQ-9 in the app, and a clinician's COWS order in the stay.
        self.measure, _ = measures.measure_record(
            actor=self.patient_user,
            patient=self.patient,
            instrument="phq9",
            answers={str(n): 1 for n in range(1, 9)} | {"9": 0},
        )
        self.measure_order = measures.measure_order_start(
            actor=self.staff[CLIN], enrollment=self.enrollment, instrument="cows", every_hours=6
        )
        self.measure_schedule = MeasureSchedule.objects.filter(program__clinic=self.clinic).first()
        # The demo's discharged patient has a signed summary; the walk's patient gets one for
        # the stay they left by a step-down (a fixture: a transition makes none), for me/.
        self.discharge_summary = DischargeSummary.objects.filter(
            enrollment__program__clinic=self.clinic
        ).first()
        left = self.patient.enrollments.filter(status="discharged").first()
        DischargeSummary.objects.create(
            enrollment=left,
            patient=self.patient,
            episode_start_date=left.start_date,
            discharge_date=left.discharge_date,
            discharge_reason=left.discharge_reason,
            course_of_treatment="Residential stay.",
            condition_at_discharge="Stable.",
            signed_by=self.staff[CLIN],
            signed_at=timezone.now(),
        )

        # A draft note of the patient's session by the clinician.
        self.progress_note = ProgressNote.objects.create(
            session=self.session,
            patient=self.patient,
            format="dap",
            sections={"data": "Engaged."},
            author=self.staff[CLIN],
        )

        self.other_clinic = ClinicFactory(id=OUTSIDE_IDS["clinic"])
        self.outside_staff = {
            role: staff_user(role=role, clinics=[self.other_clinic], id=OUTSIDE_IDS[role])
            for role in STAFF_ROLES
        }
        self.outside_patient_user = UserFactory()
        self.outside_patient = Patient.objects.create(
            id=OUTSIDE_IDS["patient"],
            clinic=self.other_clinic,
            mrn=OUTSIDE_MRN,
            first_name=OUTSIDE_NAMES[0],
            last_name=OUTSIDE_NAMES[1],
            date_of_birth=datetime.date(1980, 1, 1),
            app_user=self.outside_patient_user,
        )
        # What B's ids point at when a filter of A's lists is aimed at them.
        program = ProgramFactory(
            clinic=self.other_clinic, id=OUTSIDE_IDS["program"], name="B residential", capacity=2
        )
        Enrollment.objects.create(
            id=OUTSIDE_IDS["enrollment"],
            patient=self.outside_patient,
            program=program,
            level=program.level,
            status="waitlisted",
            start_date=datetime.date(2030, 1, 1),
            requested_start_date=datetime.date(2030, 1, 1),
            planned_end_date=datetime.date(2030, 2, 1),
        )
        room = Room.objects.create(id=OUTSIDE_IDS["room"], clinic=self.other_clinic, name="B 1")
        starts = timezone.now() + datetime.timedelta(days=3)
        series = Series.objects.create(
            id=OUTSIDE_IDS["series"],
            clinic=self.other_clinic,
            program=program,
            title="B group",
            weekdays=[1],
            local_start_time=datetime.time(18),
            duration_minutes=60,
            time_zone=self.other_clinic.time_zone,
            starts_on=starts.date(),
            room=room,
            facilitator=self.outside_staff[CLIN],
            created_by=self.outside_staff[CLIN],
        )
        Session.objects.create(
            id=OUTSIDE_IDS["session"],
            clinic=self.other_clinic,
            program=program,
            series=series,
            kind="group",
            title="B group",
            starts_at=starts,
            ends_at=starts + datetime.timedelta(hours=1),
            room=room,
            facilitator=self.outside_staff[CLIN],
        )

        # B's referral sources and inquiry carry B's ids (its seeded sources are replaced).
        ReferralSource.objects.filter(clinic=self.other_clinic).delete()
        source = ReferralSource.objects.create(
            id=OUTSIDE_IDS["referral_source"], clinic=self.other_clinic, name="B", kind="self"
        )
        # B's program's schedules carry B's id (its seeded ones are replaced).
        MeasureSchedule.objects.filter(program=program).delete()
        MeasureSchedule.objects.create(
            id=OUTSIDE_IDS["measure_schedule"], program=program, instrument="phq9", every_days=14
        )
        Inquiry.objects.create(
            id=OUTSIDE_IDS["inquiry"],
            clinic=self.other_clinic,
            referral_source=source,
            received_at=timezone.now(),
            first_name=OUTSIDE_NAMES[0],
            last_name=OUTSIDE_NAMES[1],
            created_by=self.outside_staff[ADM],
        )

    def path_for(self, template: str) -> str:
        """The template with clinic A's objects filled in."""
        first = template.split("/")[3]
        ids = {
            "clinics": self.clinic.pk,
            "audit-events": AuditEvent.objects.filter(clinic=self.clinic).values_list(
                "pk", flat=True
            )[:1][0],
            "patients": self.patient.pk,
            "assessments": self.assessment.pk,
            "programs": Program.objects.filter(clinic=self.clinic).first().pk,
            "enrollments": self.enrollment.pk,
            "transitions": Transition.objects.filter(from_enrollment__patient__clinic=self.clinic)
            .first()
            .pk,
            "aftercare-plans": self.plan.pk,
            "alerts": self.alert.pk,
            "sessions": self.session.pk,
            "series": Series.objects.filter(clinic=self.clinic).first().pk,
            "reminders": self.reminder.pk,
            "disclosures": self.disclosure.pk,
            "payers": self.payer.pk,
            "coverages": self.coverage.pk,
            "authorizations": self.authorization.pk,
            "inquiries": self.inquiry.pk,
            "measures": self.measure.pk,
            "measure-orders": self.measure_order.pk,
            "measure-schedules": self.measure_schedule.pk,
            "discharge-summaries": self.discharge_summary.pk,
            "follow-up-tasks": self.follow_up.pk,
            "progress-notes": self.progress_note.pk,
            "me": self.device.pk
            if "/devices/" in template
            else self.consent.pk
            if "/consents/" in template
            else self.session.pk,
        }
        plan_goal = self.plan.goals.first()
        plan_item = self.plan.items.first()
        values = {
            "{id}": ids.get(first),
            "{consent_id}": self.consent.pk if self.consent else 0,
            "{contact_id}": self.contact.pk,
            "{goal_id}": plan_goal.pk if plan_goal else 0,
            "{item_id}": plan_item.pk if plan_item else 0,
            "{review_id}": self.review.pk,
        }
        path = template
        for placeholder, value in values.items():
            if placeholder in path:
                assert value, f"no object of clinic A for {placeholder} in {template}"
                path = path.replace(placeholder, str(value))
        return path


def call(user, method: str, path: str):
    """One request in a savepoint that is rolled back afterwards; the response carries the
    audit rows the request wrote as ``response.audit_rows``."""
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    with transaction.atomic():
        if method in ("GET", "DELETE"):
            response = getattr(client, method.lower())(path)
        else:
            response = getattr(client, method.lower())(path, {}, format="json")
        response.audit_rows = list(
            AuditEvent.objects.filter(request_id=response.get("X-Request-ID", "-"))
        )
        transaction.set_rollback(True)
    return response


# Keys that make a response patient data (42 CFR Part 2): whose record, schedule or care it is.
PATIENT_KEYS = {"patient", "patient_id", "mrn", "date_of_birth", "first_name"}
# Records of people not (yet) registered as patients: their audit rows name the record and the
# clinic, and a patient only once the inquiry is linked to one.
PRE_PATIENT_RECORDS = {"programs.inquiry"}
# Downloads of a binary document (a PDF): no browsable page to look at.
BINARY_DOWNLOADS = {"/api/v1/discharge-summaries/{id}/pdf/"}
# The audit trail itself names patients by id only; reading it is not a look at a record.
NOT_PATIENT_DATA = {"/api/v1/audit-events/", "/api/v1/audit-events/{id}/"}


def patient_rows(template: str, data) -> list | None:
    """The rows of patient data in a response (a list's page, or the one object), else None."""
    if template in NOT_PATIENT_DATA:
        return None
    rows = data["results"] if is_list(data) else [data] if isinstance(data, dict) else []
    if template.startswith("/api/v1/me/"):
        return rows
    if any(isinstance(row, dict) and PATIENT_KEYS & row.keys() for row in rows):
        return rows
    return None


def audit_problems(who, user, method, template, response) -> list[str]:
    """A successful response with patient data: one audit row per record at least, each with
    the actor, the patient, the request id (how it was found) and a UTC time."""
    if not 200 <= response.status_code < 300 or not response.content:
        return []
    if response["Content-Type"] == "application/pdf":
        rows = [template]  # a document of one patient's record
    else:
        rows = patient_rows(template, response.json())
    if not rows:
        return []
    audits = response.audit_rows
    problems = []
    if len(audits) < len(rows):
        problems.append(
            f"{who:>12} {method:6} {template}: {len(audits)} audit rows, {len(rows)} wanted"
        )
    for audit in audits:
        unnamed = audit.patient_id is None and audit.object_type not in PRE_PATIENT_RECORDS
        if audit.actor_id != user.pk or unnamed:
            problems.append(f"{who:>12} {method:6} {template}: audit row without actor or patient")
        if audit.occurred_at.utcoffset() != datetime.timedelta(0):
            problems.append(f"{who:>12} {method:6} {template}: audit time not in UTC")
    return problems


def walk(world: World, matrix: dict, operations) -> list[str]:
    """Every caller on every operation; returns what did not match the matrix."""
    problems = []

    def expect(who, method, template, response, wanted: str):
        status = response.status_code
        ok = {
            "allowed": status < 500 and status not in (401, 403, 404),
            "403": status == 403,
            "404": status == 404,
            "401": status == 401,
        }[wanted]
        if not ok:
            body = response.content[:200].decode(errors="replace")
            problems.append(f"{who:>12} {method:6} {template}: {status}, wanted {wanted} {body}")

    def expect_no_rows(who, method, template, response):
        """B's callers see only B's own rows (ids of ``OUTSIDE_IDS``), never one of A's."""
        data = response.json()
        if not is_list(data) or "clinics" in template:
            return
        theirs = [row for row in data["results"] if row_id(row) not in OUTSIDE_IDS.values()]
        if theirs:
            problems.append(f"{who:>12} {method:6} {template}: sees {len(theirs)} rows")

    for method, template in operations:
        allowed = matrix[(method, template)]
        if allowed == PUBLIC:
            continue
        path = world.path_for(template)
        names_an_object = "{" in template
        addressed = ADDRESSED_TO.get((method, template), allowed)

        for role in STAFF_ROLES:
            response = call(world.staff[role], method, path)
            if role not in allowed:
                expect(f"A {role}", method, template, response, "403")
            elif role not in addressed:
                expect(f"A {role}", method, template, response, "404")
            else:
                expect(f"A {role}", method, template, response, "allowed")
                problems.extend(
                    audit_problems(f"A {role}", world.staff[role], method, template, response)
                )

            response = call(world.outside_staff[role], method, path)
            if role not in allowed:
                expect(f"B {role}", method, template, response, "403")
            elif names_an_object:
                expect(f"B {role}", method, template, response, "404")
            else:
                expect(f"B {role}", method, template, response, "allowed")
                if method == "GET" and response.status_code == 200:
                    expect_no_rows(f"B {role}", method, template, response)

        response = call(world.patient_user, method, path)
        expect("A patient", method, template, response, "allowed" if PATIENT in allowed else "403")
        if PATIENT in allowed:
            problems.extend(
                audit_problems("A patient", world.patient_user, method, template, response)
            )

        response = call(world.outside_patient_user, method, path)
        if PATIENT not in allowed:
            expect("B patient", method, template, response, "403")
        elif names_an_object or (method, template) in OWN_SINGLETONS:
            expect("B patient", method, template, response, "404")
        else:
            expect("B patient", method, template, response, "allowed")
            if method == "GET" and response.status_code == 200:
                expect_no_rows("B patient", method, template, response)
                if template == "/api/v1/me/" and response.json()["id"] == world.patient.pk:
                    problems.append("B patient GET /api/v1/me/: sees A's patient")

        expect("anonymous", method, template, call(None, method, path), "401")
    return problems


# The browsable API and the filters ---------------------------------------------------------------


def outside_traces(text: str) -> list[str]:
    """What of clinic B a page or body shows: its patient's names or MRN, or one of its ids."""
    marks = [*OUTSIDE_NAMES, OUTSIDE_MRN, *(str(pk) for pk in OUTSIDE_IDS.values())]
    return [mark for mark in marks if mark in text]


@contextlib.contextmanager
def debug_on():
    """DEBUG on, with the renderers its settings give. DRF copies the renderer setting into each
    view class when the class is imported, so the setting alone changes nothing here: every view
    that renders JSON also gets the renderers DEBUG adds (the browsable API)."""
    with_debug = rest_renderer_classes(debug=True)
    added = [import_string(path) for path in with_debug if path not in rest_renderer_classes()]
    assert added, "DEBUG adds the browsable API"
    get_renderers = APIView.get_renderers

    def renderers_with_debug(view):
        renderers = get_renderers(view)
        if any(isinstance(renderer, JSONRenderer) for renderer in renderers):
            renderers += [cls() for cls in added if cls not in map(type, renderers)]
        return renderers

    rest = {**settings.REST_FRAMEWORK, "DEFAULT_RENDERER_CLASSES": with_debug}
    with (
        override_settings(DEBUG=True, REST_FRAMEWORK=rest),
        mock.patch.object(APIView, "get_renderers", renderers_with_debug),
    ):
        yield


# The object of clinic B that a filter of each name is aimed at.
FILTER_TARGETS = {
    "patient": "patient",
    "patient_id": "patient",
    "program": "program",
    "clinic": "clinic",
    "enrollment": "enrollment",
    "session": "session",
    "series": "series",
    "room": "room",
    "clinician": CLIN,
    "actor": CLIN,
    "author": CLIN,
}


def id_filters() -> list[tuple[str, str]]:
    """Every (list path, query parameter) of the schema that takes an id."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (path, parameter["name"])
        for path, operations in schema["paths"].items()
        for parameter in operations.get("get", {}).get("parameters", [])
        if parameter["in"] == "query"
        and parameter["schema"].get("type") in ("integer", "number")
        and parameter["name"] not in ("page", "page_size")
    )


def api_view_classes(patterns=None) -> set[type]:
    """Every DRF view class the URL configuration serves."""
    classes = set()
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            classes |= api_view_classes(entry.url_patterns)
        elif hasattr(entry.callback, "cls"):
            classes.add(entry.callback.cls)
    return classes
