"""Every list endpoint of the schema: its query count does not grow with the page size.

A generic guard on top of the per-endpoint pins: it walks the OpenAPI schema, so a list endpoint
added later is checked without anyone remembering to.
"""

import datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from clinic.models import AuditEvent

# The hand-computed UR clinic, for the UR queue's pin.
from tests.programs.authorizations.conftest import queue_world, reviewer  # noqa: F401

# A group session's four patients, for the progress notes' pin.
from tests.programs.notes.conftest import group  # noqa: F401

pytestmark = pytest.mark.django_db


def warm_query_count(client, path: str, params=None, *, rows: bool = False) -> int:
    """The queries of a GET of ``path`` once a first GET has warmed the user (it caches its roles
    and clinics); ``rows``: the page must not be empty."""
    client.get(path, params)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, params)
    assert response.status_code == 200, response.content
    if rows:
        assert response.json()["results"], path
    return len(captured)


def list_paths() -> list[str]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if get is None or "{" in path:
            continue
        parameters = {p["name"] for p in get.get("parameters", [])}
        if "page_size" in parameters:
            paths.append(path)
    return sorted(paths)


def test_the_schema_has_the_list_endpoints():
    assert {
        "/api/v1/patients/",
        "/api/v1/enrollments/",
        "/api/v1/programs/",
        "/api/v1/assessments/",
        "/api/v1/reports/step-down/",
    } <= set(list_paths())


@pytest.mark.parametrize("path", list_paths())
def test_list_query_count_is_constant_in_page_size(settings, path):
    settings.DEBUG = True
    call_command("seed_demo")
    from django.contrib.auth import get_user_model

    client = APIClient()
    users = get_user_model().objects
    if path.startswith("/api/v1/me/"):
        # The patient's own endpoints: a demo patient with an app account.
        from patients.models import Patient

        patient = Patient.objects.get(first_name="Avery", last_name="Patel")
        patient.app_user = users.create_user(username="avery-app", password="x" * 20)
        patient.save(update_fields=["app_user"])
        client.force_authenticate(patient.app_user)
    else:
        client.force_authenticate(users.get(username="admin"))

    def queries_for(page_size):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path, {"page_size": page_size})
        assert response.status_code == 200, response.content
        return len(captured), len(response.json()["results"])

    # The user object caches its roles and clinics across these requests: warm it first.
    queries_for(1)
    small_queries, small_rows = queries_for(1)
    large_queries, large_rows = queries_for(200)

    assert large_queries == small_queries, (path, small_rows, large_rows)
    assert AuditEvent.objects.exists()


@pytest.mark.parametrize("page_size", [1, 200])
def test_my_schedule_is_three_queries_with_token_auth_and_audit(settings, page_size):
    """The patient's app opens on me/schedule/: one query loads the token's user with its
    patient, clinic, roles and what alumni access is decided on (``alumni_access_facts``), then
    the page (with its count) and one audit INSERT: three in all."""
    settings.DEBUG = True
    call_command("seed_demo")
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    from patients.models import Patient

    patient = Patient.objects.get(first_name="Avery", last_name="Patel")
    patient.app_user = get_user_model().objects.create_user(username="avery-app", password="x" * 20)
    patient.save(update_fields=["app_user"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(patient.app_user)}")
    audited = AuditEvent.objects.count()

    today = timezone.localdate()
    window = {
        "start": today - datetime.timedelta(days=45),
        "end": today + datetime.timedelta(days=45),
    }

    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/v1/me/schedule/", {"page_size": page_size, **window})

    assert response.status_code == 200, response.content
    statements = [q["sql"] for q in captured if q["sql"] not in ("BEGIN", "COMMIT")]
    assert len(statements) == 3, statements
    rows = len(response.json()["results"])
    assert rows >= 1
    assert AuditEvent.objects.count() - audited == rows


@pytest.mark.parametrize("page_size", [1, 200])
def test_the_disclosure_and_consent_lists_are_pinned(page_size, frozen_time):
    """The accounting (staff), and the patient's own consents and disclosures, whatever the page
    size: the patient looked up in the caller's clinics (staff), the count, the page and one
    audit INSERT (the caller's roles and patient are cached on the user after the first); the
    patient's own, one more for alumni access (``alumni_access_ended_on``: these clients skip
    the token's user query, which loads its facts)."""
    from tests.factories import (
        ClinicFactory,
        ConsentFactory,
        DisclosureFactory,
        PatientFactory,
        app_account,
        client_of,
        staff_user,
    )

    clinic = ClinicFactory()
    patient = PatientFactory(clinic=clinic)
    for signed_on in (datetime.date(2025, 1, 6), datetime.date(2025, 2, 3)):
        ConsentFactory(patient=patient, signed_on=signed_on)
    for _ in range(3):
        DisclosureFactory(patient=patient)
    staff = client_of(staff_user(role="supervisor", clinics=[clinic]))
    me = client_of(app_account(patient))
    pinned = {
        (staff, f"/api/v1/patients/{patient.pk}/disclosures/"): 4,
        (me, "/api/v1/me/disclosures/"): 4,
        (me, "/api/v1/me/consents/"): 4,
    }

    counted = {
        path: warm_query_count(client, path, {"page_size": page_size}) for client, path in pinned
    }

    assert counted == {path: n for (_, path), n in pinned.items()}


@pytest.mark.parametrize("page_size", [1, 200])
def test_the_utilization_review_lists_are_pinned(page_size, frozen_time):
    """Authorizations with their use (one query whatever the page), a patient's coverage, an
    authorization's reviews and the payers, whatever the page size: the count, the page (and
    what a nested list hangs on), and one audit INSERT for patient data."""
    from programs.services import authorizations
    from tests.factories import (
        AuthorizationFactory,
        ClinicFactory,
        CoverageFactory,
        EnrollmentFactory,
        PatientFactory,
        ProgramFactory,
        client_of,
        staff_user,
    )

    clinic = ClinicFactory()
    admissions = staff_user(role="admissions", clinics=[clinic])
    house = ProgramFactory(clinic=clinic, level="residential", capacity=10)
    patient = PatientFactory(clinic=clinic)
    for _ in range(3):
        stay = EnrollmentFactory(program=house, actor=admissions)
        authorization = AuthorizationFactory(enrollment=stay, approved=True, actor=admissions)
        for kind in ("initial", "concurrent"):
            authorizations.review_schedule(
                actor=admissions,
                authorization=authorization,
                kind=kind,
                scheduled_on=stay.start_date,
            )
    for priority in ("primary", "secondary"):
        CoverageFactory(patient=patient, priority=priority)
    staff = client_of(staff_user(role="supervisor", clinics=[clinic]))
    pinned = {
        "/api/v1/authorizations/": 3,
        f"/api/v1/authorizations/{authorization.pk}/reviews/": 4,
        f"/api/v1/patients/{patient.pk}/coverages/": 4,
        "/api/v1/payers/": 2,
    }

    counted = {path: warm_query_count(staff, path, {"page_size": page_size}) for path in pinned}

    assert counted == pinned


def test_the_ur_queue_is_pinned_whatever_its_size(queue_world, reviewer, admissions):  # noqa: F811
    """The UR queue: its three section queries and one audit INSERT per kind of record listed
    (reviews, authorizations, enrollments), the same with more of everything (the caller's
    roles and clinics are cached on the user after the first request)."""
    from tests.factories import (
        AuthorizationFactory,
        CoverageFactory,
        EnrollmentFactory,
        client_of,
    )
    from tests.programs.authorizations.conftest import dec, nov

    client = client_of(reviewer)

    small = warm_query_count(client, "/api/v1/ur/queue/")
    for _ in range(2):
        stay = EnrollmentFactory(program=queue_world.program, start_date=nov(25), actor=admissions)
        coverage = CoverageFactory(patient=stay.patient, payer=queue_world.payer, actor=admissions)
        AuthorizationFactory(
            enrollment=stay,
            coverage=coverage,
            units_requested=7,
            start_date=nov(25),
            end_date=dec(2),
            approved=True,
            actor=admissions,
        )

    assert warm_query_count(client, "/api/v1/ur/queue/") == small == 6


@pytest.mark.parametrize("page_size", [1, 200])
def test_the_measures_lists_are_pinned(page_size, frozen_time):
    """Measurement-based care's lists whatever the page size: the page (no count) and its audit
    INSERT; the patient's own reads the account's patient, checks alumni access, and adds what
    is due (the patient's admitted stays and ``measures_due``'s three queries);
    the staff's filters name their patient, stay or program in the caller's clinics."""
    from programs.services.measures import measure_order_start
    from tests.factories import (
        ClinicFactory,
        EnrollmentFactory,
        MeasureResponseFactory,
        ProgramFactory,
        app_account,
        client_of,
        staff_user,
    )

    clinic = ClinicFactory()
    clinician = staff_user(role="clinician", clinics=[clinic])
    stays = [EnrollmentFactory(program=ProgramFactory(clinic=clinic)) for _ in range(2)]
    for stay in stays:
        for instrument in ("phq9", "gad7", "cows"):
            MeasureResponseFactory(enrollment=stay, instrument=instrument, total=3)
        measure_order_start(actor=clinician, enrollment=stay, instrument="ciwa_ar", every_hours=4)
    staff = client_of(staff_user(role="supervisor", clinics=[clinic]))
    me = client_of(app_account(stays[0].patient))
    pinned = {
        (staff, "/api/v1/measures/"): 3,
        (staff, f"/api/v1/measures/?patient={stays[0].patient_id}"): 3,
        (staff, "/api/v1/measure-orders/"): 3,
        (staff, "/api/v1/measure-schedules/"): 2,
        (me, "/api/v1/me/measures/"): 8,
    }

    counted = {
        path: warm_query_count(client, path, {"page_size": page_size}) for client, path in pinned
    }

    assert counted == {path: n for (_, path), n in pinned.items()}


@pytest.mark.parametrize("page_size", [1, 200])
def test_the_discharge_summary_list_is_pinned(page_size):
    """The count, the page (summaries with their stay, program, patient and signer), the
    addenda of the page, and the audit INSERT; a filter adds nothing."""
    from programs.services import discharge_summaries
    from tests.factories import ClinicFactory, ProgramFactory, client_of, staff_user
    from tests.programs.discharge.helpers import complete, discharge, make_episode

    clinic = ClinicFactory()
    admissions = staff_user(role="admissions", clinics=[clinic])
    clinician = staff_user(role="clinician", clinics=[clinic])
    summaries = []
    for n in range(2):
        programs = (
            ProgramFactory(clinic=clinic, level="residential", name=f"House {n}"),
            ProgramFactory(clinic=clinic, level="iop", name=f"IOP {n}"),
        )
        episode = make_episode(clinic, admissions, clinician, first_name=f"P{n}", programs=programs)
        summaries.append(discharge(episode, clinician).summary)
    signed = discharge_summaries.discharge_summary_sign(
        complete(summaries[0], clinician), actor=clinician, now=timezone.now()
    )
    for text in ("One.", "Two."):
        discharge_summaries.discharge_summary_addendum_add(
            signed, actor=clinician, text=text, now=timezone.now()
        )
    staff = client_of(staff_user(role="supervisor", clinics=[clinic]))
    pinned = {
        "/api/v1/discharge-summaries/": 4,
        "/api/v1/discharge-summaries/?signed=true": 4,
        f"/api/v1/discharge-summaries/?patient={signed.patient_id}": 4,
    }

    counted = {path: warm_query_count(staff, path, {"page_size": page_size}) for path in pinned}

    assert counted == pinned


@pytest.mark.parametrize("page_size", [1, 200])
def test_the_follow_up_queue_is_pinned(page_size, frozen_time):
    """The follow-up queue whatever the page size and filter: the count, the page with its
    stay, program, clinic, patient and people joined, and its audit INSERT; ``overdue`` reads
    the caller's clinics' zones first (one more)."""
    from programs.models import FollowUpTask
    from tests.factories import (
        ClinicFactory,
        EnrollmentFactory,
        ProgramFactory,
        client_of,
        staff_user,
    )

    clinic = ClinicFactory()
    program = ProgramFactory(clinic=clinic)
    # No primary clinician: the tasks go to the clinic's alumni coordinators.
    staff = client_of(staff_user(role="alumni_coordinator", clinics=[clinic]))
    for _ in range(2):
        EnrollmentFactory(program=program, status="discharged")
    assert FollowUpTask.objects.count() == 6
    pinned = {"": 3, "mine=true&status=open": 3, "overdue=false": 4}

    counted = {
        query: warm_query_count(
            staff, f"/api/v1/follow-up-tasks/?page_size={page_size}&{query}", rows=True
        )
        for query in pinned
    }

    assert counted == pinned


@pytest.mark.parametrize("page_size", [1, 200])
def test_the_progress_note_list_is_pinned(page_size, group, clinician):  # noqa: F811
    """The count, the page (notes with their session and group part), the addenda of the page
    and the audit INSERT; a filter adds nothing."""
    from programs.models import ProgressNote
    from programs.services import notes
    from tests.factories import client_of
    from tests.programs.notes.conftest import parts

    notes.group_note_save(
        actor=clinician,
        session=group,
        topic="Cravings",
        interventions="CBT",
        attendees=parts(group.patients[:3]),
    )
    note = ProgressNote.objects.filter(session=group).first()
    notes.progress_note_sign(actor=clinician, note=note, password="correct-horse-battery")
    for text in ("One.", "Two."):
        notes.progress_note_addendum_add(actor=clinician, note=note, text=text)
    client = client_of(clinician)
    pinned = {
        "/api/v1/progress-notes/": 4,
        "/api/v1/progress-notes/?status=signed": 4,
        "/api/v1/progress-notes/?late=true": 4,
        f"/api/v1/progress-notes/?patient={note.patient_id}": 4,
    }

    counted = {path: warm_query_count(client, path, {"page_size": page_size}) for path in pinned}

    assert counted == pinned


@pytest.mark.parametrize("page_size", [1, 200])
def test_the_notes_due_list_is_pinned(page_size):
    """Notes due whatever the page size and filter: the count, the page with its patient,
    session (and clinic, for the deadline) and author joined, and its audit INSERT."""
    import time_machine

    from scheduling.models import RosterEntry
    from tests.factories import (
        ClinicFactory,
        PatientFactory,
        ProgramFactory,
        SessionFactory,
        client_of,
        staff_user,
    )
    from tests.programs.notes_show.helpers import START, after_end, note

    clinic = ClinicFactory()
    program = ProgramFactory(clinic=clinic)
    clinician = staff_user(role="clinician", clinics=[clinic])
    patients = [PatientFactory(clinic=clinic) for _ in range(3)]
    session = SessionFactory(
        clinic=clinic, actor=clinician, starts_at=START, program=program, facilitator=clinician
    )
    RosterEntry.objects.bulk_create(RosterEntry(session=session, patient=p) for p in patients)
    note(session, patients[0], clinician)
    note(session, patients[1], clinician)
    note(session, patients[2], clinician, signed_at=after_end(1), cosign=True)
    staff = client_of(clinician)
    pinned = {"": 3, "late=true": 3, "status=draft": 3, f"author={clinician.pk}": 3}

    with time_machine.travel(after_end(73), tick=False):
        counted = {
            query: warm_query_count(
                staff, f"/api/v1/notes-due/?page_size={page_size}&{query}", rows=True
            )
            for query in pinned
        }

    assert counted == pinned
