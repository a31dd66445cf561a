"""Aftercare plans, items, goals and check-ins; risky check-ins alert (DOMAIN.md "Aftercare")."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from clinic.alerts import alert_acknowledge
from clinic.errors import Conflict
from clinic.models import AlertKind, AuditAction, AuditEvent, Role, StaffAlert
from clinic.services import alert_raise
from patients.models import Patient
from programs.models import AftercarePlan, CheckIn, Level
from programs.services import aftercare as services
from programs.services.enrollments import enrollment_create
from tests.factories import (
    EnrollmentFactory,
    PatientFactory,
    ProgramFactory,
    UserFactory,
    staff_user,
)

pytestmark = pytest.mark.django_db

BASE = "/api/v1/aftercare-plans/"


def make_enrollment(clinic, admissions, clinician=None, program=None, **patient_fields):
    return EnrollmentFactory(
        actor=admissions,
        patient=PatientFactory(clinic=clinic, actor=admissions, **patient_fields),
        program=program or ProgramFactory(clinic=clinic, level=Level.IOP, track="day", capacity=10),
        primary_clinician=clinician,
    )


def make_plan(clinic, admissions, clinician, *, primary_clinician=True, **patient_fields):
    enrollment = make_enrollment(
        clinic, admissions, clinician if primary_clinician else None, **patient_fields
    )
    return services.aftercare_plan_create(actor=clinician, enrollment=enrollment)


def check_in(plan, actor, craving=2, mood=4, used_substance=False, note=""):
    return services.checkin_record(
        actor=actor,
        plan=plan,
        craving=craving,
        mood=mood,
        used_substance=used_substance,
        note=note,
    )


@pytest.fixture
def plan(clinic, admissions, clinician):
    return make_plan(clinic, admissions, clinician, first_name="Ana", last_name="Diaz")


# Plans --------------------------------------------------------------------------------------------


def test_a_clinician_starts_the_plan_of_an_admitted_enrollment(
    client_for, clinic, admissions, clinician
):
    enrollment = make_enrollment(clinic, admissions, clinician)

    response = client_for(clinician).post(
        BASE,
        {
            "enrollment": enrollment.pk,
            "review_date": "2027-01-15",
            "medication_continuation": "Buprenorphine 8 mg daily, refills via Dr Ortiz",
            "sober_living": "Oak House from discharge",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["enrollment"] == enrollment.pk
    assert body["patient"] == enrollment.patient_id
    assert body["clinic"] == clinic.pk
    assert body["status"] == "draft"
    assert body["review_date"] == "2027-01-15"
    assert body["items"] == []
    assert body["goals"] == []
    assert response.headers["Cache-Control"].count("no-store") == 1
    plan = AftercarePlan.objects.get()
    assert plan.created_by == clinician
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE,
        object_type="programs.aftercareplan",
        object_id=str(plan.pk),
        patient_id=enrollment.patient_id,
        clinic=clinic,
        actor=clinician,
    ).exists()


def test_a_second_plan_for_the_same_enrollment_is_a_409(client_for, plan, clinician):
    response = client_for(clinician).post(BASE, {"enrollment": plan.enrollment_id}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "plan_exists"
    assert AftercarePlan.objects.count() == 1


def test_a_waitlisted_enrollment_gets_no_plan(clinic, admissions, clinician):
    program = ProgramFactory(clinic=clinic, capacity=1, level=Level.IOP, track="day")
    make_enrollment(clinic, admissions, program=program)
    waitlisted = enrollment_create(
        actor=admissions,
        patient=PatientFactory(clinic=clinic, actor=admissions),
        program=program,
        start_date=timezone.localdate(timezone=clinic.zone),
        waitlist=True,
    )
    assert waitlisted.status == "waitlisted"

    with pytest.raises(Conflict) as error:
        services.aftercare_plan_create(actor=clinician, enrollment=waitlisted)

    assert error.value.code == "invalid_state"
    assert not AftercarePlan.objects.exists()


def test_the_plan_status_moves_forward_only(client_for, plan, clinician):
    client = client_for(clinician)
    url = f"{BASE}{plan.pk}/"

    activated = client.patch(url, {"status": "active"}, format="json")
    backwards = client.patch(url, {"status": "draft"}, format="json")
    closed = client.patch(url, {"status": "closed"}, format="json")
    reopened = client.patch(url, {"status": "active"}, format="json")

    assert activated.status_code == 200
    assert activated.json()["status"] == "active"
    assert (backwards.status_code, backwards.json()["code"]) == (409, "invalid_state")
    assert closed.status_code == 200
    assert (reopened.status_code, reopened.json()["code"]) == (409, "invalid_state")
    plan.refresh_from_db()
    assert plan.status == "closed"


def test_the_plan_review_date_and_texts_change(client_for, plan, clinician):
    response = client_for(clinician).patch(
        f"{BASE}{plan.pk}/",
        {"review_date": "2027-02-01", "sober_living": "  Oak House  ", "notes": "Call weekly"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    plan.refresh_from_db()
    assert (plan.review_date, plan.sober_living, plan.notes) == (
        datetime.date(2027, 2, 1),
        "Oak House",
        "Call weekly",
    )
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE, object_id=str(plan.pk), patient_id=plan.patient_id
    ).exists()


def test_plan_update_refuses_fields_outside_the_allowlist(plan, clinician):
    with pytest.raises(ValidationError) as error:
        services.aftercare_plan_update(actor=clinician, plan=plan, patient_id=1, status="active")

    assert set(error.value.message_dict) == {"patient_id"}
    plan.refresh_from_db()
    assert plan.status == "draft"


def test_a_closed_plan_refuses_further_changes(client_for, plan, clinician):
    services.aftercare_plan_update(actor=clinician, plan=plan, status="closed")
    client = client_for(clinician)

    item = client.post(f"{BASE}{plan.pk}/items/", {"kind": "trigger", "text": "x"}, format="json")
    notes = client.patch(f"{BASE}{plan.pk}/", {"notes": "later"}, format="json")

    assert (item.status_code, item.json()["code"]) == (409, "plan_closed")
    assert (notes.status_code, notes.json()["code"]) == (409, "plan_closed")


# Items and goals ----------------------------------------------------------------------------------


def test_items_are_added_listed_and_removed(client_for, plan, clinician, clinic):
    client = client_for(clinician)
    items = f"{BASE}{plan.pk}/items/"

    trigger = client.post(items, {"kind": "trigger", "text": "Payday evenings"}, format="json")
    follow_up = client.post(
        items,
        {
            "kind": "follow_up",
            "text": "Dr Ortiz, outpatient review",
            "scheduled_for": "2027-01-10T15:00:00Z",
        },
        format="json",
    )
    listed = client.get(items)
    removed = client.delete(f"{items}{trigger.json()['id']}/")
    after = client.get(f"{BASE}{plan.pk}/").json()["items"]

    assert trigger.status_code == 201, trigger.json()
    assert follow_up.status_code == 201, follow_up.json()
    assert [item["kind"] for item in listed.json()["results"]] == ["follow_up", "trigger"]
    assert removed.status_code == 204
    assert [item["text"] for item in after] == ["Dr Ortiz, outpatient review"]
    actions = set(
        AuditEvent.objects.filter(
            object_type="programs.aftercareitem", patient_id=plan.patient_id, clinic=clinic
        ).values_list("action", flat=True)
    )
    assert actions == {AuditAction.CREATE, AuditAction.LIST, AuditAction.DELETE}


def test_only_a_follow_up_appointment_has_a_time(client_for, plan, clinician):
    response = client_for(clinician).post(
        f"{BASE}{plan.pk}/items/",
        {"kind": "support_group", "text": "SMART Recovery", "scheduled_for": "2027-01-10T15:00Z"},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"scheduled_for"}


def test_an_item_of_another_plan_is_404(client_for, plan, clinic, admissions, clinician):
    other = make_plan(clinic, admissions, clinician)
    item = services.aftercare_item_add(actor=clinician, plan=other, kind="trigger", text="Bars")

    response = client_for(clinician).delete(f"{BASE}{plan.pk}/items/{item.pk}/")

    assert response.status_code == 404
    assert other.items.count() == 1


def test_goals_are_added_and_their_progress_recorded(client_for, plan, clinician):
    client = client_for(clinician)
    goals = f"{BASE}{plan.pk}/goals/"

    created = client.post(
        goals,
        {"description": "Attend 3 meetings a week", "target_date": "2027-03-01"},
        format="json",
    )
    goal_id = created.json()["id"]
    updated = client.patch(f"{goals}{goal_id}/", {"status": "in_progress"}, format="json")
    achieved = client.patch(
        f"{goals}{goal_id}/", {"status": "achieved", "target_date": None}, format="json"
    )
    listed = client.get(goals)

    assert created.status_code == 201, created.json()
    assert created.json()["status"] == "open"
    assert updated.json()["status"] == "in_progress"
    assert achieved.status_code == 200
    assert achieved.json()["target_date"] is None
    assert [(g["id"], g["status"]) for g in listed.json()["results"]] == [(goal_id, "achieved")]
    assert (
        AuditEvent.objects.filter(
            action=AuditAction.UPDATE,
            object_type="programs.aftercaregoal",
            object_id=str(goal_id),
            patient_id=plan.patient_id,
        ).count()
        == 2
    )


def test_an_unknown_goal_status_is_a_400(client_for, plan, clinician):
    goal = services.aftercare_goal_add(actor=clinician, plan=plan, description="Stay sober")

    response = client_for(clinician).patch(
        f"{BASE}{plan.pk}/goals/{goal.pk}/", {"status": "finished"}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"status"}


def test_goal_update_refuses_fields_outside_the_allowlist(plan, clinician):
    goal = services.aftercare_goal_add(actor=clinician, plan=plan, description="Stay sober")

    with pytest.raises(ValidationError) as error:
        services.aftercare_goal_update(actor=clinician, goal=goal, plan=plan)

    assert set(error.value.message_dict) == {"plan"}


# Check-ins ----------------------------------------------------------------------------------------


def test_staff_record_a_check_in_on_the_patients_behalf(client_for, plan, admissions, clinic):
    response = client_for(admissions).post(
        f"{BASE}{plan.pk}/check-ins/",
        {"craving": 3, "mood": 4, "used_substance": False, "note": "Good week"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["craving"], body["mood"], body["used_substance"], body["risky"]) == (
        3,
        4,
        False,
        False,
    )
    checkin = CheckIn.objects.get()
    assert (checkin.patient_id, checkin.recorded_by) == (plan.patient_id, admissions)
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE,
        object_type="programs.checkin",
        patient_id=plan.patient_id,
        clinic=clinic,
    ).exists()


def test_check_in_ratings_out_of_range_are_a_400_with_fields(client_for, plan, clinician):
    response = client_for(clinician).post(
        f"{BASE}{plan.pk}/check-ins/",
        {"craving": 11, "mood": 0, "used_substance": False},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"craving", "mood"}
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize(("craving", "mood"), [(-1, 3), (11, 3), (5, 0), (5, 6)])
def test_the_service_refuses_ratings_out_of_range(plan, clinician, craving, mood):
    with pytest.raises(ValidationError) as error:
        check_in(plan, clinician, craving=craving, mood=mood)

    field = "craving" if craving not in range(11) else "mood"
    assert set(error.value.message_dict) == {field}
    assert not CheckIn.objects.exists()


def test_a_check_in_reporting_use_alerts_the_primary_clinician_once(
    client_for, plan, clinician, admissions, clinic
):
    response = client_for(admissions).post(
        f"{BASE}{plan.pk}/check-ins/",
        {"craving": 2, "mood": 2, "used_substance": True},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["risky"] is True
    alert = StaffAlert.objects.get()
    assert alert.kind == AlertKind.RISKY_CHECK_IN
    assert alert.recipient == clinician
    assert alert.recipient_role == ""
    assert (alert.clinic_id, alert.patient_id) == (clinic.pk, plan.patient_id)
    assert (alert.object_type, alert.object_id) == ("programs.checkin", str(response.json()["id"]))
    assert alert.message == "A check-in needs attention (use reported)."


@pytest.mark.parametrize(("craving", "alerts"), [(7, 0), (8, 1), (10, 1)])
def test_a_craving_of_8_or_more_is_risky(plan, clinician, craving, alerts):
    checkin = check_in(plan, clinician, craving=craving)

    assert checkin.is_risky is bool(alerts)
    assert StaffAlert.objects.filter(kind=AlertKind.RISKY_CHECK_IN).count() == alerts


def test_a_calm_check_in_raises_no_alert(plan, clinician):
    check_in(plan, clinician, craving=0, mood=5, used_substance=False)

    assert not StaffAlert.objects.exists()


def test_risky_check_ins_while_the_alert_is_open_attach_to_it(plan, clinician):
    # given: a risky check-in raised an alert
    first = check_in(plan, clinician, used_substance=True)
    alert = StaffAlert.objects.get()
    assert (alert.occurrences, alert.last_occurred_at) == (1, first.recorded_at)
    assert alert.deliveries.count() == 1

    # when: two more before anyone acknowledges it
    calm = check_in(plan, clinician, craving=2)  # counts for nothing
    second = check_in(plan, clinician, craving=8)
    third = check_in(plan, clinician, craving=9)

    # then: the one alert counts them, with the latest's reasons; no one is e-mailed again
    alert = StaffAlert.objects.get()
    assert (alert.object_type, alert.object_id) == ("programs.checkin", str(first.pk))
    assert alert.occurrences == 3
    assert alert.last_occurred_at == third.recorded_at
    assert alert.message == "3 check-ins need attention (latest: craving 9 of 10)."
    assert alert.deliveries.count() == 1
    assert set(CheckIn.objects.filter(alert=alert).values_list("pk", flat=True)) == {
        first.pk,
        second.pk,
        third.pk,
    }
    assert CheckIn.objects.get(pk=calm.pk).alert is None


def test_re_raising_a_check_in_neither_alerts_nor_counts_twice(plan, clinician):
    first = check_in(plan, clinician, used_substance=True)
    second = check_in(plan, clinician, craving=9)

    # A retried task or a double submit for the same check-ins changes nothing.
    again = services.checkin_alert_raise(checkin=first)
    services.checkin_alert_raise(checkin=CheckIn.objects.get(pk=first.pk))
    services.checkin_alert_raise(checkin=CheckIn.objects.get(pk=second.pk))

    alert = StaffAlert.objects.get()
    assert again == alert
    assert alert.occurrences == 2
    assert alert.object_id == str(first.pk)
    # The first subject is idempotent in the clinic layer too.
    assert (
        alert_raise(
            clinic_id=plan.enrollment.program.clinic_id,
            kind=AlertKind.RISKY_CHECK_IN,
            subject=first,
            recipient=clinician,
            patient_id=plan.patient_id,
            message="again",
        )
        == alert
    )
    alert.refresh_from_db()
    assert alert.occurrences == 2
    assert alert.message == "2 check-ins need attention (latest: craving 9 of 10)."


def test_once_acknowledged_the_next_risky_check_in_raises_a_new_alert(plan, clinician):
    check_in(plan, clinician, used_substance=True)
    check_in(plan, clinician, craving=9)
    first_alert = StaffAlert.objects.get()
    alert_acknowledge(actor=clinician, alert=first_alert)

    later = check_in(plan, clinician, craving=10)

    new_alert = StaffAlert.objects.exclude(pk=first_alert.pk).get()
    assert new_alert.object_id == str(later.pk)
    assert (new_alert.occurrences, new_alert.acknowledged_at) == (1, None)
    assert new_alert.message == "A check-in needs attention (craving 10 of 10)."
    assert new_alert.deliveries.count() == 1
    first_alert.refresh_from_db()
    assert first_alert.occurrences == 2


def test_each_patient_has_an_alert_of_their_own(clinic, admissions, plan, clinician):
    other_plan = make_plan(clinic, admissions, clinician)

    check_in(plan, clinician, used_substance=True)
    check_in(other_plan, clinician, used_substance=True)

    assert sorted(StaffAlert.objects.values_list("patient_id", "occurrences")) == sorted(
        [(plan.patient_id, 1), (other_plan.patient_id, 1)]
    )


def test_the_database_holds_one_open_risky_alert_per_patient(plan, clinician):
    from django.db import IntegrityError, transaction

    first = check_in(plan, clinician, used_substance=True)
    second = check_in(plan, clinician, craving=2)
    fields = {
        "clinic_id": plan.enrollment.program.clinic_id,
        "recipient": clinician,
        "patient_id": plan.patient_id,
        "object_type": "programs.checkin",
        "message": "m",
    }

    with pytest.raises(IntegrityError, match="alert_one_open_per_patient"), transaction.atomic():
        StaffAlert.objects.create(kind=AlertKind.RISKY_CHECK_IN, object_id=str(second.pk), **fields)
    # Other kinds are one per subject, open or not: offers and moves do not coalesce.
    for n in (1, 2):
        StaffAlert.objects.create(kind=AlertKind.WAITLIST_OFFER, object_id=f"o{n}", **fields)
        StaffAlert.objects.create(kind=AlertKind.CONTINUITY_GAP, object_id=f"t{n}", **fields)
    # Once the open one is acknowledged, another may open.
    alert_acknowledge(actor=clinician, alert=StaffAlert.objects.get(object_id=str(first.pk)))
    StaffAlert.objects.create(kind=AlertKind.RISKY_CHECK_IN, object_id=str(second.pk), **fields)

    assert StaffAlert.objects.filter(kind=AlertKind.RISKY_CHECK_IN).count() == 2


def test_the_alert_names_neither_the_note_nor_the_patient(plan, clinician):
    note = "Saw my old dealer Marco near the station"

    check_in(plan, clinician, craving=9, used_substance=True, note=note)

    message = StaffAlert.objects.get().message
    assert message == "A check-in needs attention (use reported, craving 9 of 10)."
    for secret in (note, "Marco", "Ana", "Diaz", plan.patient.mrn):
        assert secret not in message


def test_without_a_primary_clinician_the_alert_goes_to_the_clinicians(
    clinic, admissions, clinician
):
    plan = make_plan(clinic, admissions, clinician, primary_clinician=False)

    check_in(plan, clinician, craving=8)

    alert = StaffAlert.objects.get()
    assert (alert.recipient, alert.recipient_role) == (None, Role.CLINICIAN)


def test_a_closed_plan_refuses_check_ins(client_for, plan, clinician):
    services.aftercare_plan_update(actor=clinician, plan=plan, status="closed")

    response = client_for(clinician).post(
        f"{BASE}{plan.pk}/check-ins/",
        {"craving": 9, "mood": 1, "used_substance": True},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "plan_closed"
    assert not CheckIn.objects.exists()
    assert not StaffAlert.objects.exists()


def test_the_patient_records_their_own_check_in_but_not_anothers(
    plan, clinic, admissions, clinician
):
    own_account, other_account = UserFactory(), UserFactory()
    Patient.objects.filter(pk=plan.patient_id).update(app_user=own_account)
    other_plan = make_plan(clinic, admissions, clinician)
    Patient.objects.filter(pk=other_plan.patient_id).update(app_user=other_account)

    checkin = check_in(plan, own_account, craving=1)
    with pytest.raises(PermissionDenied):
        check_in(plan, other_account)

    assert checkin.recorded_by == own_account
    assert list(CheckIn.objects.values_list("pk", flat=True)) == [checkin.pk]


def test_staff_of_another_clinic_cannot_record_a_check_in(plan, other_clinic):
    outsider = staff_user(role="clinician", clinics=[other_clinic])

    with pytest.raises(PermissionDenied):
        check_in(plan, outsider)


def test_check_ins_are_listed_newest_first(client_for, plan, clinician, supervisor):
    first = check_in(plan, clinician, craving=1)
    second = check_in(plan, clinician, craving=2)

    response = client_for(supervisor).get(f"{BASE}{plan.pk}/check-ins/")

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [second.pk, first.pk]


# Roles and scoping --------------------------------------------------------------------------------


def test_supervisors_read_but_do_not_write(client_for, plan, supervisor, clinician):
    item = services.aftercare_item_add(actor=clinician, plan=plan, kind="trigger", text="Bars")
    goal = services.aftercare_goal_add(actor=clinician, plan=plan, description="Stay sober")
    client = client_for(supervisor)
    url = f"{BASE}{plan.pk}/"

    reads = [client.get(path) for path in (BASE, url, f"{url}items/", f"{url}goals/")]
    writes = [
        client.post(BASE, {"enrollment": plan.enrollment_id}, format="json"),
        client.patch(url, {"status": "active"}, format="json"),
        client.post(f"{url}items/", {"kind": "trigger", "text": "x"}, format="json"),
        client.delete(f"{url}items/{item.pk}/"),
        client.post(f"{url}goals/", {"description": "x"}, format="json"),
        client.patch(f"{url}goals/{goal.pk}/", {"status": "achieved"}, format="json"),
        client.post(f"{url}check-ins/", {"craving": 1, "mood": 3, "used_substance": False}),
    ]

    assert [r.status_code for r in reads] == [200] * 4
    assert [r.status_code for r in writes] == [403] * 7


def test_admissions_record_check_ins_but_do_not_edit_plans(client_for, plan, admissions):
    client = client_for(admissions)

    edit = client.patch(f"{BASE}{plan.pk}/", {"notes": "x"}, format="json")
    item = client.post(f"{BASE}{plan.pk}/items/", {"kind": "trigger", "text": "x"}, format="json")
    checkin = client.post(
        f"{BASE}{plan.pk}/check-ins/",
        {"craving": 1, "mood": 3, "used_substance": False},
        format="json",
    )

    assert (edit.status_code, item.status_code, checkin.status_code) == (403, 403, 201)


def test_a_user_without_a_role_gets_403(client_for, plan, user_without_role):
    client = client_for(user_without_role)

    responses = [
        client.get(BASE),
        client.get(f"{BASE}{plan.pk}/"),
        client.post(f"{BASE}{plan.pk}/check-ins/", {"craving": 1, "mood": 3}),
        client.get("/api/v1/alerts/"),
    ]

    assert [r.status_code for r in responses] == [403] * 4


def test_another_clinics_plan_is_404_and_absent_from_lists(client_for, plan, other_clinic):
    outsider = staff_user(role="clinician", clinics=[other_clinic])
    outsider_admissions = staff_user(role="admissions", clinics=[other_clinic])
    own_plan = make_plan(other_clinic, outsider_admissions, outsider)
    client = client_for(outsider)
    url = f"{BASE}{plan.pk}/"

    listed = client.get(BASE).json()["results"]
    responses = [
        client.get(url),
        client.patch(url, {"notes": "x"}, format="json"),
        client.get(f"{url}items/"),
        client.post(f"{url}goals/", {"description": "x"}, format="json"),
        client.post(f"{url}check-ins/", {"craving": 1, "mood": 3, "used_substance": False}),
        client.post(BASE, {"enrollment": plan.enrollment_id}, format="json"),
    ]

    assert [row["id"] for row in listed] == [own_plan.pk]
    assert [r.status_code for r in responses[:-1]] == [404] * 5
    # Naming an outside enrollment reads as "does not exist".
    assert responses[-1].status_code == 400
    assert set(responses[-1].json()["fields"]) == {"enrollment"}


def test_plans_filter_by_patient_enrollment_and_status(
    client_for, plan, clinic, admissions, clinician
):
    other = make_plan(clinic, admissions, clinician)
    services.aftercare_plan_update(actor=clinician, plan=other, status="active")
    client = client_for(clinician)

    def ids(query):
        return [row["id"] for row in client.get(f"{BASE}?{query}").json()["results"]]

    assert ids(f"patient={plan.patient_id}") == [plan.pk]
    assert ids(f"enrollment={other.enrollment_id}") == [other.pk]
    assert ids("status=active") == [other.pk]
    assert ids("status=draft") == [plan.pk]


def test_reads_are_audited_with_the_patient_id(client_for, plan, supervisor, clinician, clinic):
    check_in(plan, clinician)
    client = client_for(supervisor)

    listed = client.get(BASE)
    read = client.get(f"{BASE}{plan.pk}/")
    check_ins = client.get(f"{BASE}{plan.pk}/check-ins/")

    assert all(r.status_code == 200 for r in (listed, read, check_ins))
    assert "no-store" in check_ins.headers["Cache-Control"]
    events = AuditEvent.objects.filter(actor=supervisor)
    assert set(events.values_list("action", "object_type", "patient_id", "clinic_id")) == {
        (AuditAction.LIST, "programs.aftercareplan", plan.patient_id, clinic.pk),
        (AuditAction.READ, "programs.aftercareplan", plan.patient_id, clinic.pk),
        (AuditAction.LIST, "programs.checkin", plan.patient_id, clinic.pk),
    }


@pytest.mark.parametrize("page_size", [1, 50, 200])
def test_plan_list_queries_do_not_grow_with_the_page(
    client_for, clinic, admissions, clinician, supervisor, page_size, django_assert_num_queries
):
    program = ProgramFactory(clinic=clinic, capacity=250, level=Level.IOP, track="day")
    for _ in range(200):
        plan = services.aftercare_plan_create(
            actor=clinician, enrollment=make_enrollment(clinic, admissions, program=program)
        )
        services.aftercare_item_add(actor=clinician, plan=plan, kind="trigger", text="Payday")
        services.aftercare_goal_add(actor=clinician, plan=plan, description="Meetings")
    client = client_for(supervisor)

    # roles, clinic ids, count, page, items (prefetch), goals (prefetch), audit insert
    with django_assert_num_queries(7):
        response = client.get(f"{BASE}?page_size={page_size}")

    results = response.json()["results"]
    assert len(results) == page_size
    assert all(len(row["items"]) == 1 and len(row["goals"]) == 1 for row in results)


# Alerts -------------------------------------------------------------------------------------------


def test_the_alert_list_shows_only_the_callers_alerts(
    client_for, plan, clinic, admissions, clinician, other_clinic
):
    colleague = staff_user(role="clinician", clinics=[clinic])
    outsider = staff_user(role="clinician", clinics=[other_clinic])
    named = check_in(plan, admissions, used_substance=True)
    unassigned_plan = make_plan(clinic, admissions, clinician, primary_clinician=False)
    for_the_role = check_in(unassigned_plan, admissions, craving=9)
    elsewhere_plan = make_plan(
        other_clinic, staff_user(role="admissions", clinics=[other_clinic]), outsider
    )
    check_in(elsewhere_plan, outsider, craving=10)

    def alert_subjects(user, query=""):
        response = client_for(user).get(f"/api/v1/alerts/{query}")
        assert response.status_code == 200
        return {row["object_id"] for row in response.json()["results"]}

    assert alert_subjects(clinician) == {str(named.pk), str(for_the_role.pk)}
    assert alert_subjects(colleague) == {str(for_the_role.pk)}
    assert alert_subjects(admissions) == set()
    assert alert_subjects(outsider) == {StaffAlert.objects.get(clinic=other_clinic).object_id}
    assert alert_subjects(clinician, "?kind=waitlist_offer") == set()
    assert AuditEvent.objects.filter(
        actor=clinician, action=AuditAction.LIST, object_type="clinic.staffalert"
    ).exists()


def test_an_alert_is_acknowledged_once(client_for, plan, clinician, clinic):
    check_in(plan, clinician, used_substance=True)
    alert = StaffAlert.objects.get()
    client = client_for(clinician)
    url = f"/api/v1/alerts/{alert.pk}/acknowledge/"

    first = client.post(url)
    second = client.post(url)

    assert first.status_code == 200
    assert first.json()["acknowledged"] is True
    assert first.json()["acknowledged_by"] == clinician.pk
    assert (second.status_code, second.json()["code"]) == (409, "already_acknowledged")
    alert.refresh_from_db()
    acknowledged_at = alert.acknowledged_at
    assert acknowledged_at is not None
    assert alert.acknowledged_by == clinician
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE,
        object_type="clinic.staffalert",
        object_id=str(alert.pk),
        patient_id=plan.patient_id,
        clinic=clinic,
    ).exists()
    with pytest.raises(Conflict):
        alert_acknowledge(actor=clinician, alert=alert)
    alert.refresh_from_db()
    assert alert.acknowledged_at == acknowledged_at
    assert [
        row["id"] for row in client.get("/api/v1/alerts/?acknowledged=true").json()["results"]
    ] == [alert.pk]
    assert client.get("/api/v1/alerts/?acknowledged=false").json()["results"] == []


def test_someone_elses_alert_cannot_be_acknowledged(client_for, plan, clinician, clinic):
    check_in(plan, clinician, used_substance=True)
    alert = StaffAlert.objects.get()
    colleague = staff_user(role="clinician", clinics=[clinic])

    response = client_for(colleague).post(f"/api/v1/alerts/{alert.pk}/acknowledge/")

    assert response.status_code == 404
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
