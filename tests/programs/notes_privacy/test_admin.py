"""The notes' admin pages: read-only, scoped by ``progress_note_list`` (supervisors, the care
team; nobody else), filtered by status, lateness and author, every page audited."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditAction, AuditEvent
from programs.models import ProgressNote
from tests.factories import (
    ClinicFactory,
    EnrollmentFactory,
    PatientFactory,
    admin_login,
    staff_user,
)
from tests.programs.notes_privacy.conftest import GROUP_AT, MARKERS
from tests.programs.notes_privacy.helpers import group_part, note, session_of

pytestmark = pytest.mark.django_db

URL = "/admin/programs/progressnote/"


@pytest.fixture
def away_note(notes_world):
    """A note of another clinic, whose supervisor and clinicians are not ours."""
    away = ClinicFactory()
    author = staff_user(role="clinician", clinics=[away])
    patient = PatientFactory(clinic=away, first_name="Farland", last_name="Outwick")
    session = session_of(away, GROUP_AT, facilitator=author)
    return note(
        session=session,
        patient=patient,
        author=author,
        format="dap",
        sections={"data": "Marker away note", "assessment": "x", "plan": "y"},
    )


def listing(client, **query) -> str:
    response = client.get(URL, query)
    assert response.status_code == 200
    return response.content.decode()


def test_a_supervisor_reads_every_note_of_the_clinic_and_no_other(client, notes_world, away_note):
    admin_login(client, notes_world["supervisor"])

    page = listing(client)

    for patient in ("avery", "blake", "casey"):
        assert notes_world[patient].last_name in page
    assert "Outwick" not in page
    assert client.get(f"{URL}{away_note.pk}/change/", follow=True).status_code in (200, 404)
    assert (
        "Marker away note"
        not in client.get(f"{URL}{away_note.pk}/change/", follow=True).content.decode()
    )


def test_a_clinician_reads_only_the_notes_of_their_care_team(client, notes_world):
    stranger = staff_user(role="clinician", clinics=[notes_world["clinic"]], is_staff=True)
    admin_login(client, stranger)
    assert "Quillfeather" not in listing(client)
    signed = notes_world["notes"]["signed"]
    response = client.get(f"{URL}{signed.pk}/change/", follow=True)
    assert MARKERS["signed"] not in response.content.decode()

    # As Avery's primary clinician they read Avery's notes, and only Avery's.
    EnrollmentFactory(
        program__clinic=notes_world["clinic"],
        patient=notes_world["avery"],
        primary_clinician=stranger,
        actor=notes_world["admissions"],
    )
    page = listing(client)
    assert "Quillfeather" in page
    assert "Marrowfield" not in page


@pytest.mark.parametrize("role", ["admissions", "utilization_review", "alumni_coordinator"])
def test_other_roles_see_no_note(client, notes_world, role):
    user = staff_user(role=role, clinics=[notes_world["clinic"]], is_staff=True)
    admin_login(client, user)

    assert client.get(URL).status_code == 403
    signed = notes_world["notes"]["signed"]
    assert client.get(f"{URL}{signed.pk}/change/").status_code in (403, 302)
    assert b"progressnote" not in client.get("/admin/").content


def test_the_change_page_is_read_only_shows_the_note_and_is_audited(client, notes_world):
    supervisor = notes_world["supervisor"]
    signed = notes_world["notes"]["signed"]
    admin_login(client, supervisor)

    response = client.get(f"{URL}{signed.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert b'name="_save"' not in response.content
    for marker in ("group", "signed", "addendum"):
        assert MARKERS[marker] in page
    assert "Signed" in page
    read = AuditEvent.objects.filter(
        actor=supervisor, action=AuditAction.READ, object_id=str(signed.pk)
    )
    assert read.get().patient_id == notes_world["avery"].pk
    assert client.get(f"{URL}add/").status_code == 403
    before = ProgressNote.objects.get(pk=signed.pk).sections
    client.post(f"{URL}{signed.pk}/change/", {"sections": "{}"})
    assert ProgressNote.objects.get(pk=signed.pk).sections == before


def test_the_filters_status_late_and_author(client, notes_world):
    admin_login(client, notes_world["supervisor"])
    notes = notes_world["notes"]

    def shown(**query) -> set[int]:
        response = client.get(URL, query)
        assert response.status_code == 200
        return {obj.pk for obj in response.context["cl"].result_list}

    assert shown(status="draft") == {notes["draft"].pk}
    assert shown(status="awaiting_cosignature") == {notes["awaiting"].pk}
    assert notes["signed"].pk in shown(status="signed")
    assert notes["draft"].pk not in shown(status="signed")
    # The frozen Tuesday is days past the draft's session plus 72 hours; the rest were signed
    # an hour after their sessions.
    assert shown(late="yes") == {notes["draft"].pk}
    assert notes["draft"].pk not in shown(late="no")
    other = staff_user(role="clinician", clinics=[notes_world["clinic"]], is_staff=True)
    session = session_of(notes_world["clinic"], GROUP_AT.replace(hour=14), facilitator=other)
    theirs = note(
        session=session,
        patient=notes_world["blake"],
        author=other,
        group=group_part(session, author=other),
        sections={"participation": "Fine."},
    )
    assert shown(author__id__exact=other.pk) == {theirs.pk}


def test_the_list_reads_a_constant_number_of_queries(client, notes_world):
    admin_login(client, notes_world["supervisor"])

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        return len(captured)

    before = queries()
    clinician = notes_world["clinician"]
    for n in range(4):
        other = PatientFactory(clinic=notes_world["clinic"], actor=notes_world["admissions"])
        session = session_of(
            notes_world["clinic"],
            GROUP_AT.replace(day=10 + n),
            facilitator=clinician,
            kind="individual",
        )
        note(session=session, patient=other, author=clinician, sections={"data": "x"})
    assert queries() == before
