"""No lost updates (issue 20): the records staff edit concurrently carry a version; their detail
responses carry it as an ``ETag``, and a PATCH or DELETE with a stale ``If-Match`` is a 412 with
the error body, checked under the row lock. Without ``If-Match`` a write behaves as before."""

import datetime
import itertools
import re

import pytest
from django.test import Client as DjangoClient

from clinic.errors import PreconditionFailed
from patients import services as patient_services
from patients.models import Assessment, Patient, PatientContact
from programs.models import Level
from programs.services import aftercare
from programs.services.enrollments import enrollment_create
from scheduling import services as calendar
from scheduling.models import Session
from tests.concurrency import InThread, held_transaction, someone_waits_for_a_lock
from tests.factories import PatientFactory, ProgramFactory, SessionFactory, staff_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]

NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
TODAY = datetime.date(2026, 12, 1)
RESIDENTIAL = {"d1": 3, "d2": 1, "d3": 1, "d4": 1, "d5": 1, "d6": 1}
ETAG = re.compile(r'^"(\d+)-(\d+)"$')


@pytest.fixture
def bea(clinic):
    """A second clinician of the clinic: the one who changes the record in between."""
    return staff_user(role="clinician", clinics=[clinic], username="bea")


# The records, each with its URL and two edits (A's and B's) --------------------------------------


_names = itertools.cycle(["Ana", "Ben", "Cyd", "Dora", "Eliot", "Fatima"])


def _patient(clinic, admissions, clinician):
    return PatientFactory(
        clinic=clinic, actor=admissions, first_name=next(_names), last_name=f"Lee{next(_suffixes)}"
    )


_suffixes = iter(range(100_000))


def _plan(clinic, admissions, clinician):
    program = ProgramFactory(clinic=clinic, name="Day IOP", level=Level.IOP, capacity=5)
    enrollment = enrollment_create(
        actor=admissions,
        patient=_patient(clinic, admissions, clinician),
        program=program,
        start_date=TODAY,
    )
    return aftercare.aftercare_plan_create(actor=clinician, enrollment=enrollment)


def _contact(clinic, admissions, clinician):
    return patient_services.contact_create(
        actor=admissions,
        patient=_patient(clinic, admissions, clinician),
        kind="emergency",
        name="Rosa",
        phone="+12025550143",
    )


def _assessment(clinic, admissions, clinician):
    return patient_services.assessment_create(
        actor=clinician,
        patient=_patient(clinic, admissions, clinician),
        severity="severe",
        dimensions=RESIDENTIAL,
    )


def _goal(clinic, admissions, clinician):
    plan = _plan(clinic, admissions, clinician)
    return aftercare.aftercare_goal_add(actor=clinician, plan=plan, description="Meetings")


def _session(clinic, admissions, clinician):
    starts = NOW + datetime.timedelta(days=2)
    return SessionFactory(
        clinic=clinic,
        actor=clinician,
        title="Group",
        kind="group",
        starts_at=starts,
        ends_at=starts + datetime.timedelta(hours=2),
    )


RECORDS = {
    # kind: (make, url, A's edit, B's edit, the field that shows whose edit won)
    "patient": (
        _patient,
        lambda r: f"/api/v1/patients/{r.pk}/",
        {"first_name": "Anna"},
        {"first_name": "Ann"},
        "first_name",
    ),
    "contact": (
        _contact,
        lambda r: f"/api/v1/patients/{r.patient_id}/contacts/{r.pk}/",
        {"name": "Rosa Diaz"},
        {"name": "Rosa D."},
        "name",
    ),
    "assessment": (
        _assessment,
        lambda r: f"/api/v1/assessments/{r.pk}/",
        {"decided_level": "php", "override_reason": "A: works days"},
        {"decided_level": "residential"},
        "decided_level",
    ),
    "aftercare plan": (
        _plan,
        lambda r: f"/api/v1/aftercare-plans/{r.pk}/",
        {"notes": "A's notes"},
        {"notes": "B's notes"},
        "notes",
    ),
    "goal": (
        _goal,
        lambda r: f"/api/v1/aftercare-plans/{r.plan_id}/goals/{r.pk}/",
        {"description": "A: two meetings a week"},
        {"description": "B: daily meetings"},
        "description",
    ),
    "session": (
        _session,
        lambda r: f"/api/v1/sessions/{r.pk}/",
        {"location": "Room A"},
        {"location": "Room B"},
        "location",
    ),
}


@pytest.fixture(params=list(RECORDS))
def record(request, clinic, admissions, clinician):
    make, url, mine, theirs, field = RECORDS[request.param]
    obj = make(clinic, admissions, clinician)
    return {
        "kind": request.param,
        "obj": obj,
        "url": url(obj),
        "mine": mine,
        "theirs": theirs,
        "field": field,
    }


def reloaded(obj):
    return type(obj).objects.get(pk=obj.pk)


# ETag on detail responses -------------------------------------------------------------------------


def test_a_detail_read_carries_the_records_version_as_a_strong_etag(record, client_for, clinician):
    response = client_for(clinician).get(record["url"])

    assert response.status_code == 200
    assert ETAG.match(response["ETag"]).groups() == (str(record["obj"].pk), "1")


def test_a_write_answers_with_the_new_etag_the_next_read_gives_too(record, client_for, clinician):
    client = client_for(clinician)
    before = client.get(record["url"])["ETag"]

    written = client.patch(record["url"], record["mine"], format="json", HTTP_IF_MATCH=before)

    assert written.status_code == 200, written.content
    assert written["ETag"] != before
    assert (
        written["ETag"]
        == client.get(record["url"])["ETag"]
        == (f'"{record["obj"].pk}-{reloaded(record["obj"]).version}"')
    )


# If-Match -----------------------------------------------------------------------------------------


def test_a_patch_with_a_stale_etag_is_a_412_naming_who_changed_it_and_changes_nothing(
    record, client_for, clinician, bea
):
    # given: A reads the record, then B changes it
    mine, theirs = client_for(clinician), client_for(bea)
    read = mine.get(record["url"])["ETag"]
    assert theirs.patch(record["url"], record["theirs"], format="json").status_code == 200
    after_b = reloaded(record["obj"])

    # when: A saves the edit made on what they read
    response = mine.patch(record["url"], record["mine"], format="json", HTTP_IF_MATCH=read)

    # then
    assert response.status_code == 412
    body = response.json()
    assert body["code"] == "precondition_failed"
    assert body["fields"] == {}
    assert "changed by bea at 2026-12-01 15:00 UTC since you read it" in body["detail"]
    now = reloaded(record["obj"])
    assert now.version == after_b.version
    assert getattr(now, record["field"]) == getattr(after_b, record["field"])


def test_without_if_match_a_write_goes_through_as_before(record, client_for, clinician, bea):
    client_for(bea).patch(record["url"], record["theirs"], format="json")

    response = client_for(clinician).patch(record["url"], record["mine"], format="json")

    if record["kind"] == "assessment":
        # A decision is final: the second one is refused as it always was.
        assert response.json()["code"] == "already_decided"
        return
    assert response.status_code == 200
    assert response.json()[record["field"]] == record["mine"][record["field"]]


def test_if_match_star_matches_any_version(record, client_for, clinician):
    response = client_for(clinician).patch(
        record["url"], record["mine"], format="json", HTTP_IF_MATCH="*"
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        'W/"{pk}-1"',  # a weak tag never matches (RFC 9110: If-Match compares strongly)
        '"{other}-1"',  # another record's tag
        '"{pk}-2"',  # a version the record never had
        "{pk}-1",  # not a quoted tag
    ],
)
def test_if_match_naming_no_current_version_is_a_412(record, client_for, clinician, header):
    obj = record["obj"]
    value = header.format(pk=obj.pk, other=obj.pk + 1000)

    response = client_for(clinician).patch(
        record["url"], record["mine"], format="json", HTTP_IF_MATCH=value
    )

    assert response.status_code == 412
    assert reloaded(obj).version == 1


def test_if_match_may_list_several_tags(record, client_for, clinician):
    pk = record["obj"].pk

    response = client_for(clinician).patch(
        record["url"], record["mine"], format="json", HTTP_IF_MATCH=f'"{pk}-7", "{pk}-1"'
    )

    assert response.status_code == 200


def test_a_stale_if_match_on_a_series_edit_is_a_412(client_for, clinic, clinician, bea):
    series = calendar.series_create(
        actor=clinician,
        clinic=clinic,
        title="Skills",
        weekdays=[2, 4],
        local_start_time=datetime.time(18),
        duration_minutes=90,
        starts_on=TODAY,
    )
    session = calendar.series_materialize(series=series)[0]
    url = f"/api/v1/sessions/{session.pk}/"
    read = client_for(clinician).get(url)["ETag"]
    client_for(bea).patch(url, {"location": "Annex"}, format="json")

    response = client_for(clinician).patch(
        url, {"scope": "all", "title": "Skills group"}, format="json", HTTP_IF_MATCH=read
    )

    assert response.status_code == 412
    assert Session.objects.filter(series=series, title="Skills group").count() == 0


def test_a_contact_delete_honours_if_match(client_for, clinic, admissions, clinician, bea):
    contact = _contact(clinic, admissions, clinician)
    url = f"/api/v1/patients/{contact.patient_id}/contacts/{contact.pk}/"
    read = client_for(clinician).get(url)["ETag"]
    client_for(bea).patch(url, {"phone": "+12025550199"}, format="json")

    stale = client_for(clinician).delete(url, HTTP_IF_MATCH=read)
    assert stale.status_code == 412
    assert PatientContact.objects.filter(pk=contact.pk).exists()

    current = client_for(clinician).get(url)["ETag"]
    assert client_for(clinician).delete(url, HTTP_IF_MATCH=current).status_code == 204
    assert not PatientContact.objects.filter(pk=contact.pk).exists()


def test_a_contact_and_a_goal_are_read_on_their_own_and_audited(
    client_for, clinic, admissions, clinician
):
    from clinic.models import AuditAction, AuditEvent

    contact = _contact(clinic, admissions, clinician)
    goal = _goal(clinic, admissions, clinician)
    supervisor = staff_user(role="supervisor", clinics=[clinic])

    for obj, url in [
        (contact, f"/api/v1/patients/{contact.patient_id}/contacts/{contact.pk}/"),
        (goal, f"/api/v1/aftercare-plans/{goal.plan_id}/goals/{goal.pk}/"),
    ]:
        response = client_for(supervisor).get(url)
        assert response.status_code == 200
        assert response.json()["id"] == obj.pk
        assert AuditEvent.objects.filter(
            actor=supervisor,
            action=AuditAction.READ,
            object_type=obj._meta.label_lower,
            object_id=str(obj.pk),
        ).exists()


# Under the row lock -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_of_two_concurrent_writes_that_read_the_same_version_exactly_one_wins(clinic):
    admissions = staff_user(role="admissions", clinics=[clinic])
    patient = PatientFactory(clinic=clinic, actor=admissions, first_name="Ana")
    read = {patient.version}

    def first():
        return patient_services.patient_update(
            actor=admissions, patient=patient, expected_versions=read, first_name="Anna"
        )

    def second():
        return patient_services.patient_update(
            actor=admissions, patient=patient, expected_versions=read, first_name="Ann"
        )

    # given: the first write holds the row, not yet committed
    with held_transaction(first):
        contender = InThread(second).start()
        # then: the second waits for the lock rather than reading the old version
        assert someone_waits_for_a_lock()
    # when: the first commits, the second sees its version
    with pytest.raises(PreconditionFailed):
        contender.join()
    assert Patient.objects.get(pk=patient.pk).first_name == "Anna"


# The version itself -------------------------------------------------------------------------------


def test_every_path_that_changes_the_row_raises_the_version(clinic, admissions, clinician):
    patient = PatientFactory(clinic=clinic, actor=admissions, first_name="Ana")
    session = _session(clinic, admissions, clinician)

    # A bulk update skips the services and auto_now, not the trigger.
    Patient.objects.filter(pk=patient.pk).update(last_name="Diaz")
    Session.objects.filter(pk=session.pk).update(title="Skills")
    # An SMS STOP writes through bulk_update.
    patient_services.patient_sms_opt_out(phone="+12025550000")

    assert reloaded(patient).version == 2
    assert reloaded(session).version == 2


def test_an_update_that_changes_nothing_keeps_the_version(clinic, admissions):
    patient = PatientFactory(clinic=clinic, actor=admissions, first_name="Ana")

    Patient.objects.filter(pk=patient.pk).update(first_name="Ana")

    assert reloaded(patient).version == 1


def test_a_stale_version_written_back_cannot_turn_the_counter_back(clinic, admissions):
    stale = PatientFactory(clinic=clinic, actor=admissions, first_name="Ana")
    Patient.objects.filter(pk=stale.pk).update(first_name="Anna")  # version 2

    stale.last_name = "Diaz"
    stale.save()  # writes every column, version=1 among them

    assert reloaded(stale).version == 3


def test_the_service_returns_the_version_it_wrote(clinic, admissions, clinician):
    contact = _contact(clinic, admissions, clinician)
    assessment = _assessment(clinic, admissions, clinician)

    contact = patient_services.contact_update(actor=admissions, contact=contact, name="Rosa D.")
    assessment = patient_services.assessment_decide(
        actor=clinician, assessment=assessment, decided_level="residential"
    )

    assert contact.version == PatientContact.objects.get(pk=contact.pk).version == 2
    assert assessment.version == Assessment.objects.get(pk=assessment.pk).version == 2


# The schema ---------------------------------------------------------------------------------------

VERSIONED_WRITES = [
    ("patch", "/api/v1/patients/{id}/"),
    ("patch", "/api/v1/patients/{id}/contacts/{contact_id}/"),
    ("delete", "/api/v1/patients/{id}/contacts/{contact_id}/"),
    ("patch", "/api/v1/assessments/{id}/"),
    ("patch", "/api/v1/aftercare-plans/{id}/"),
    ("patch", "/api/v1/aftercare-plans/{id}/goals/{goal_id}/"),
    ("patch", "/api/v1/sessions/{id}/"),
    ("patch", "/api/v1/coverages/{id}/"),
    ("post", "/api/v1/authorizations/{id}/decide/"),
    ("patch", "/api/v1/inquiries/{id}/"),
    ("patch", "/api/v1/discharge-summaries/{id}/"),
    ("post", "/api/v1/discharge-summaries/{id}/sign/"),
    ("post", "/api/v1/follow-up-tasks/{id}/complete/"),
    ("patch", "/api/v1/measure-schedules/{id}/"),
    ("delete", "/api/v1/measure-schedules/{id}/"),
    ("patch", "/api/v1/progress-notes/{id}/"),
    ("put", "/api/v1/sessions/{id}/group-note/"),
]
# A record's GET and PATCH answer with its ETag.
DETAIL_RESPONSES = [
    (method, path)
    for write, path in VERSIONED_WRITES
    if write == "patch"
    for method in ("get", "patch")
]


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return DjangoClient().get("/api/schema/", {"format": "json"}).json()


def test_the_schema_documents_if_match_and_412_on_the_versioned_writes(schema):
    for method, path in VERSIONED_WRITES:
        operation = schema["paths"][path][method]
        headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
        assert headers["If-Match"].get("required", False) is False, (method, path)
        assert operation["responses"]["412"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }


def test_the_schema_documents_the_etag_header_of_detail_reads_and_writes(schema):
    for method, path in DETAIL_RESPONSES:
        headers = schema["paths"][path][method]["responses"]["200"]["headers"]
        assert headers["ETag"]["schema"] == {"type": "string"}, (method, path)


def test_operations_without_if_match_document_no_412(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if (method, path) not in VERSIONED_WRITES:
                assert "412" not in operation.get("responses", {}), (method, path)
