"""The patient's enrollments, aftercare plan and check-ins: ``me/enrollments/``,
``me/aftercare-plan/``, ``me/check-ins/`` (API.md "The patient's app")."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from clinic.models import AlertKind, AuditAction, AuditEvent, StaffAlert
from programs.models import AftercarePlan, CheckIn
from programs.services import aftercare, enrollments
from tests.factories import PatientFactory, ProgramFactory, app_account, client_of

pytestmark = pytest.mark.django_db

ENROLLMENTS = "/api/v1/me/enrollments/"
PLAN = "/api/v1/me/aftercare-plan/"
CHECK_INS = "/api/v1/me/check-ins/"

# 2026-12-01 10:00 in New York (the test clinic's zone).
NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
TODAY = datetime.date(2026, 12, 1)
frozen = time_machine.travel(NOW, tick=False)

ENROLLMENT_KEYS = {
    "id",
    "program",
    "program_name",
    "level",
    "track",
    "status",
    "start_date",
    "planned_end_date",
    "discharge_date",
    "offer",
    "offer_expires_at",
}
CHECK_IN_KEYS = {"id", "plan", "craving", "mood", "used_substance", "note", "recorded_at"}


def days(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


def check_in(plan, actor, **answers):
    return aftercare.checkin_record(
        actor=actor,
        plan=plan,
        **{"craving": 2, "mood": 4, "used_substance": False, "note": "", **answers},
    )


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


@pytest.fixture
def outpatient(clinic):
    return ProgramFactory(clinic=clinic, level="outpatient", name="Outpatient", capacity=10)


@pytest.fixture
def iop(clinic):
    return ProgramFactory(
        clinic=clinic, level="iop", name="Evening IOP", track="evening", capacity=10
    )


@pytest.fixture
def ana(clinic, admissions):
    return PatientFactory(clinic=clinic, actor=admissions, first_name="Ana")


@pytest.fixture
def ben(clinic, admissions):
    return PatientFactory(clinic=clinic, actor=admissions, first_name="Ben")


@pytest.fixture
def ana_user(ana):
    return app_account(ana)


@pytest.fixture
def ana_client(ana_user):
    return client_of(ana_user)


@pytest.fixture
def stays(clinic, admissions, clinician, outpatient, iop, ana, ben):
    """Ana: an outpatient stay 60 to 31 days ago (discharged), in IOP since 20 days ago. Ben: in
    IOP since 10 days ago."""
    with time_machine.travel(NOW - datetime.timedelta(days=60), tick=False):
        earlier = enrollments.enrollment_create(
            actor=admissions,
            patient=ana,
            program=outpatient,
            start_date=days(-60),
            primary_clinician=clinician,
        )
    with time_machine.travel(NOW - datetime.timedelta(days=31), tick=False):
        enrollments.enrollment_discharge(
            actor=clinician, enrollment=earlier, date=days(-31), reason="completed"
        )
    with frozen:
        current = enrollments.enrollment_create(
            actor=admissions,
            patient=ana,
            program=iop,
            start_date=days(-20),
            primary_clinician=clinician,
        )
        bens = enrollments.enrollment_create(
            actor=admissions, patient=ben, program=iop, start_date=days(-10)
        )
    return {"earlier": earlier, "current": current, "bens": bens}


@pytest.fixture
def plans(stays, clinician):
    """Ana's active plan (with items and goals) and Ben's plan with one check-in."""
    with frozen:
        plan = aftercare.aftercare_plan_create(
            actor=clinician,
            enrollment=stays["current"],
            review_date=days(30),
            medication_continuation="Naltrexone 50 mg daily",
            sober_living="Oak House",
            notes="Staff only: ask about the custody hearing.",
        )
        aftercare.aftercare_item_add(
            actor=clinician, plan=plan, kind="trigger", text="Payday Fridays"
        )
        follow_up = aftercare.aftercare_item_add(
            actor=clinician,
            plan=plan,
            kind="follow_up",
            text="Counselor follow-up",
            scheduled_for=NOW + datetime.timedelta(days=14),
        )
        goal = aftercare.aftercare_goal_add(
            actor=clinician, plan=plan, description="Weekly support group", target_date=days(60)
        )
        aftercare.aftercare_plan_update(actor=clinician, plan=plan, status="active")
        bens = aftercare.aftercare_plan_create(actor=clinician, enrollment=stays["bens"])
        check_in(bens, clinician, craving=9, note="Ben's note")
    return {"ana": plan, "ben": bens, "follow_up": follow_up, "goal": goal}


# Who may ------------------------------------------------------------------------------------------

REQUESTS = [(ENROLLMENTS, "get"), (PLAN, "get"), (CHECK_INS, "get"), (CHECK_INS, "post")]
ANSWERS = {"craving": 1, "mood": 3, "used_substance": False}


@pytest.mark.parametrize(("path", "method"), REQUESTS)
def test_staff_and_unlinked_accounts_get_403_and_no_token_401(
    client_for, clinician, admissions, supervisor, user_without_role, plans, path, method
):
    for user in (clinician, admissions, supervisor, user_without_role):
        response = getattr(client_for(user), method)(path, ANSWERS)
        assert response.status_code == 403, (user, response.content)
        assert set(response.json()) == {"code", "detail", "fields"}
    assert getattr(APIClient(), method)(path, ANSWERS).status_code == 401
    assert CheckIn.objects.count() == 1  # Ben's, from the fixture


def test_a_staff_member_linked_to_a_patient_record_is_still_refused(
    client_for, clinician, ana, plans
):
    ana.app_user = clinician
    ana.save(update_fields=["app_user"])

    for path, method in REQUESTS:
        assert getattr(client_for(clinician), method)(path, ANSWERS).status_code == 403, path
    assert not CheckIn.objects.filter(patient=ana).exists()


# me/enrollments/ ----------------------------------------------------------------------------------


@frozen
def test_enrollments_list_the_patients_own_stays_newest_first(ana_client, stays, iop):
    response = ana_client.get(ENROLLMENTS)

    assert ids(response) == [stays["current"].pk, stays["earlier"].pk]
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    current, earlier = body["results"]
    assert set(current) == ENROLLMENT_KEYS
    assert current == {
        "id": stays["current"].pk,
        "program": iop.pk,
        "program_name": "Evening IOP",
        "level": "iop",
        "track": "evening",
        "status": "admitted",
        "start_date": days(-20).isoformat(),
        "planned_end_date": stays["current"].planned_end_date.isoformat(),
        "discharge_date": None,
        "offer": None,
        "offer_expires_at": None,
    }
    assert (earlier["status"], earlier["level"], earlier["track"]) == (
        "discharged",
        "outpatient",
        "",
    )
    assert earlier["discharge_date"] == days(-31).isoformat()


def test_enrollment_reads_are_audited_per_row_and_not_cached(ana_client, ana_user, ana, stays):
    response = ana_client.get(ENROLLMENTS)

    assert "no-store" in response["Cache-Control"]
    rows = AuditEvent.objects.filter(action=AuditAction.LIST, object_type="programs.enrollment")
    assert sorted(rows.values_list("object_id", flat=True)) == sorted(
        [str(stays["current"].pk), str(stays["earlier"].pk)]
    )
    assert {(row.actor_id, row.patient_id) for row in rows} == {(ana_user.pk, ana.pk)}


def test_another_patients_enrollments_are_never_listed(ana_client, ben, stays):
    assert stays["bens"].pk not in ids(ana_client.get(ENROLLMENTS, {"patient": ben.pk}))
    assert ids(client_of(app_account(ben)).get(ENROLLMENTS)) == [stays["bens"].pk]


def test_a_patient_without_enrollments_gets_an_empty_page(ben, client_for):
    assert ids(client_for(app_account(ben)).get(ENROLLMENTS)) == []


# me/aftercare-plan/ -------------------------------------------------------------------------------


def test_the_plan_shows_items_and_goals_without_staff_notes(ana_client, stays, plans):
    response = ana_client.get(PLAN)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {
        "id",
        "enrollment",
        "program_name",
        "status",
        "review_date",
        "medication_continuation",
        "sober_living",
        "items",
        "goals",
        "updated_at",
    }
    assert body["id"] == plans["ana"].pk
    assert body["enrollment"] == stays["current"].pk
    assert body["program_name"] == "Evening IOP"
    assert body["status"] == "active"
    assert body["review_date"] == days(30).isoformat()
    assert body["medication_continuation"] == "Naltrexone 50 mg daily"
    assert body["sober_living"] == "Oak House"
    assert body["items"] == [
        {
            "id": plans["follow_up"].pk,
            "kind": "follow_up",
            "text": "Counselor follow-up",
            "scheduled_for": "2026-12-15T15:00:00Z",
        },
        {
            "id": body["items"][1]["id"],
            "kind": "trigger",
            "text": "Payday Fridays",
            "scheduled_for": None,
        },
    ]
    assert body["goals"] == [
        {
            "id": plans["goal"].pk,
            "description": "Weekly support group",
            "status": "open",
            "target_date": days(60).isoformat(),
        }
    ]
    assert "custody" not in response.content.decode()


def test_the_plan_read_is_audited_and_not_cached(ana_client, ana_user, ana, clinic, plans):
    response = ana_client.get(PLAN)

    assert "no-store" in response["Cache-Control"]
    [row] = AuditEvent.objects.filter(action=AuditAction.READ, object_type="programs.aftercareplan")
    assert (row.actor, row.object_id) == (ana_user, str(plans["ana"].pk))
    assert (row.patient_id, row.clinic_id) == (ana.pk, clinic.pk)


def test_an_active_plan_comes_before_a_draft_and_a_closed_one_is_not_current(
    ana_client, clinician, stays, plans
):
    with frozen:
        draft = aftercare.aftercare_plan_create(actor=clinician, enrollment=stays["earlier"])
    assert ana_client.get(PLAN).json()["id"] == plans["ana"].pk

    aftercare.aftercare_plan_update(actor=clinician, plan=plans["ana"], status="closed")
    assert ana_client.get(PLAN).json()["id"] == draft.pk

    aftercare.aftercare_plan_update(actor=clinician, plan=draft, status="closed")
    response = ana_client.get(PLAN)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_no_plan_is_a_404_and_another_patients_plan_is_never_shown(ana_client, clinician, stays):
    # Ben has a plan of his own; Ana (with none yet) never sees it.
    with frozen:
        aftercare.aftercare_plan_create(actor=clinician, enrollment=stays["bens"])

    response = ana_client.get(PLAN, {"id": AftercarePlan.objects.get().pk})

    assert response.status_code == 404
    assert set(response.json()) == {"code", "detail", "fields"}
    assert not AuditEvent.objects.filter(object_type="programs.aftercareplan", action="read")


# me/check-ins/ ------------------------------------------------------------------------------------


@frozen
def test_a_check_in_goes_to_the_current_plan_and_is_audited(
    ana_client, ana_user, ana, clinic, plans
):
    response = ana_client.post(
        CHECK_INS, {"craving": 3, "mood": 4, "used_substance": False, "note": " Good week. "}
    )

    assert response.status_code == 201, response.content
    assert "no-store" in response["Cache-Control"]
    checkin = CheckIn.objects.get(patient=ana)
    assert response.json() == {
        "id": checkin.pk,
        "plan": plans["ana"].pk,
        "craving": 3,
        "mood": 4,
        "used_substance": False,
        "note": "Good week.",
        "recorded_at": response.json()["recorded_at"],
    }
    # The database's clock stamps it (a column default), not the frozen one.
    assert datetime.datetime.fromisoformat(response.json()["recorded_at"]) == checkin.recorded_at
    assert (checkin.plan, checkin.recorded_by) == (plans["ana"], ana_user)
    [row] = AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_type="programs.checkin", actor=ana_user
    )
    assert (row.object_id, row.patient_id, row.clinic_id) == (str(checkin.pk), ana.pk, clinic.pk)
    assert not StaffAlert.objects.filter(patient_id=ana.pk).exists()


@pytest.mark.parametrize(
    "answers",
    [
        {"craving": 2, "mood": 3, "used_substance": True},
        {"craving": 8, "mood": 3, "used_substance": False},
    ],
)
def test_a_risky_check_in_alerts_the_primary_clinician_exactly_once(
    ana_client, ana, clinician, plans, answers
):
    response = ana_client.post(CHECK_INS, {**answers, "note": "Rough night at the bar"})

    assert response.status_code == 201, response.content
    assert "risky" not in response.json()
    [alert] = StaffAlert.objects.filter(patient_id=ana.pk)
    assert alert.kind == AlertKind.RISKY_CHECK_IN
    assert alert.recipient == clinician
    assert alert.object_id == str(response.json()["id"])
    assert "bar" not in alert.message
    assert "Ana" not in alert.message


def test_new_check_ins_have_a_throttle_of_their_own(ana_client, ana, plans, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"checkin": "2/hour"})
    answers = {"craving": 9, "mood": 1, "used_substance": True}

    codes = [ana_client.post(CHECK_INS, answers).status_code for _ in range(3)]
    history = ana_client.get(CHECK_INS)

    assert codes == [201, 201, 429]
    assert history.status_code == 200  # reading the history is not limited by it
    throttled = ana_client.post(CHECK_INS, answers)
    assert throttled.status_code == 429
    body = throttled.json()
    assert set(body) == {"code", "detail", "fields"}
    assert (body["code"], body["fields"]) == ("throttled", {})
    assert "Retry-After" in throttled.headers
    assert CheckIn.objects.filter(patient=ana).count() == 2
    [alert] = StaffAlert.objects.filter(patient_id=ana.pk)
    assert alert.occurrences == 2


@pytest.mark.parametrize(
    ("answers", "fields"),
    [
        (
            {"craving": 11, "mood": 0, "used_substance": False},
            {
                "craving": ["Ensure this value is less than or equal to 10."],
                "mood": ["Ensure this value is greater than or equal to 1."],
            },
        ),
        ({"craving": -1, "mood": 3}, {"craving": None, "used_substance": None}),
        (
            {"craving": "a lot", "mood": 3, "used_substance": "maybe"},
            {"craving": None, "used_substance": None},
        ),
        ({}, {"craving": None, "mood": None, "used_substance": None}),
    ],
)
def test_bad_answers_are_a_400_naming_each_field(ana_client, ana, plans, answers, fields):
    response = ana_client.post(CHECK_INS, answers)

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "detail", "fields"}
    assert body["code"] == "invalid"
    assert set(body["fields"]) == set(fields)
    for name, messages in fields.items():
        if messages is not None:
            assert body["fields"][name] == messages
    assert not CheckIn.objects.filter(patient=ana).exists()


@pytest.mark.parametrize("name", ["plan", "patient", "recorded_by", "recorded_at"])
def test_a_check_in_cannot_name_a_plan_patient_or_author(ana_client, ana, ben, plans, name):
    value = {"plan": plans["ben"].pk, "patient": ben.pk, "recorded_by": ben.pk}.get(
        name, "2020-01-01T00:00:00Z"
    )

    response = ana_client.post(CHECK_INS, {**ANSWERS, name: value})

    assert response.status_code == 400
    assert response.json()["fields"] == {name: ["This field is not accepted here."]}
    assert CheckIn.objects.count() == 1  # only Ben's own, from the fixture
    assert not CheckIn.objects.filter(patient=ana).exists()


def test_without_an_open_plan_a_check_in_is_a_409(ana_client, ana, clinician, stays, plans):
    aftercare.aftercare_plan_update(actor=clinician, plan=plans["ana"], status="closed")

    response = ana_client.post(CHECK_INS, ANSWERS)

    assert response.status_code == 409
    assert response.json() == {
        "code": "no_open_plan",
        "detail": "There is no open aftercare plan to check in against; your care team starts "
        "one before discharge.",
        "fields": {},
    }
    assert not CheckIn.objects.filter(patient=ana).exists()


def test_a_patient_who_never_had_a_plan_gets_the_same_409(ben, client_for):
    response = client_for(app_account(ben)).post(CHECK_INS, ANSWERS)

    assert response.status_code == 409
    assert response.json()["code"] == "no_open_plan"


def test_check_in_history_is_the_patients_own_newest_first(ana_client, ana, clinician, plans):
    with time_machine.travel(NOW, tick=False):
        first = check_in(plans["ana"], clinician, craving=1)
    with time_machine.travel(NOW + datetime.timedelta(days=1), tick=False):
        second_id = ana_client.post(CHECK_INS, {**ANSWERS, "note": "Day two"}).json()["id"]

    response = ana_client.get(CHECK_INS)

    assert ids(response) == [second_id, first.pk]
    assert "no-store" in response["Cache-Control"]
    latest = response.json()["results"][0]
    assert set(latest) == CHECK_IN_KEYS
    assert latest["note"] == "Day two"
    assert "Ben's note" not in response.content.decode()
    rows = AuditEvent.objects.filter(action=AuditAction.LIST, object_type="programs.checkin")
    assert sorted(rows.values_list("object_id", flat=True)) == sorted(
        [str(first.pk), str(second_id)]
    )
    assert set(rows.values_list("patient_id", flat=True)) == {ana.pk}


def test_check_in_history_keeps_closed_plans_check_ins(ana_client, clinician, plans):
    earlier = check_in(plans["ana"], clinician)
    aftercare.aftercare_plan_update(actor=clinician, plan=plans["ana"], status="closed")

    assert ids(ana_client.get(CHECK_INS)) == [earlier.pk]


# Query counts -------------------------------------------------------------------------------------


def queries_for(client, path, page_size):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, {"page_size": page_size})
    assert response.status_code == 200, response.content
    return len(captured), len(response.json()["results"])


def test_check_in_list_query_count_does_not_grow_with_the_rows(ana_client, clinician, plans):
    for craving in range(6):
        check_in(plans["ana"], clinician, craving=craving)
    queries_for(ana_client, CHECK_INS, 1)  # the user object caches its roles: warm it

    assert queries_for(ana_client, CHECK_INS, 1)[0] == queries_for(ana_client, CHECK_INS, 200)[0]
    assert queries_for(ana_client, CHECK_INS, 200)[1] == 6


def test_enrollment_list_query_count_does_not_grow_with_the_rows(ana_client, stays):
    queries_for(ana_client, ENROLLMENTS, 1)

    small, one = queries_for(ana_client, ENROLLMENTS, 1)
    large, two = queries_for(ana_client, ENROLLMENTS, 200)

    assert (one, two) == (1, 2)
    assert small == large


def test_the_plan_takes_a_fixed_number_of_queries(ana_client, clinician, plans):
    ana_client.get(PLAN)  # warm the user object
    with CaptureQueriesContext(connection) as few:
        ana_client.get(PLAN)
    for n in range(5):
        aftercare.aftercare_item_add(
            actor=clinician, plan=plans["ana"], kind="trigger", text=f"T{n}"
        )
        aftercare.aftercare_goal_add(actor=clinician, plan=plans["ana"], description=f"G{n}")
    with CaptureQueriesContext(connection) as many:
        ana_client.get(PLAN)

    assert len(few) == len(many)
