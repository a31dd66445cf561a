"""The audit trail: written by the service, append-only in the database, read by supervisors."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.http import HttpResponse
from django.test.utils import CaptureQueriesContext

from clinic.middleware import RequestIdMiddleware
from clinic.models import AuditAction, AuditEvent
from clinic.services import audit_record, audit_record_many
from tests.factories import ClinicFactory, admin_login, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(clinic, clinician):
    return audit_record(
        actor=clinician, action=AuditAction.READ, obj=clinic, clinic=clinic, patient_id=42
    )


def test_audit_record_names_actor_object_patient_and_time(event, clinic, clinician):
    event.refresh_from_db()

    assert event.actor == clinician
    assert event.object_type == "clinic.clinic"
    assert event.object_id == str(clinic.pk)
    assert event.patient_id == 42
    assert event.clinic == clinic
    assert event.occurred_at.utcoffset().total_seconds() == 0


def test_audit_record_many_writes_one_row_per_object_in_one_query(
    clinician, django_assert_num_queries
):
    clinics = ClinicFactory.create_batch(3)

    with django_assert_num_queries(1):
        audit_record_many(
            actor=clinician,
            action=AuditAction.LIST,
            objects=clinics,
            patient_id_of=lambda c: None,
            clinic_id_of=lambda c: c.pk,
        )

    assert AuditEvent.objects.filter(action="list").count() == 3


def test_the_database_refuses_update(event):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action=AuditAction.DELETE)

    event.refresh_from_db()
    assert event.action == AuditAction.READ


def test_the_database_refuses_delete(event):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_database_refuses_raw_sql_too(event):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE clinic_auditevent SET patient_id = 1 WHERE id = %s", [event.pk])


def test_audit_row_carries_the_request_id_of_the_request(rf, clinician, clinic):
    def view(request):
        audit_record(actor=clinician, action=AuditAction.READ, obj=clinic, clinic=clinic)
        return HttpResponse()

    response = RequestIdMiddleware(view)(rf.get("/", HTTP_X_REQUEST_ID="req-1234567890"))

    assert response["X-Request-ID"] == "req-1234567890"
    assert AuditEvent.objects.get().request_id == "req-1234567890"


def test_an_unsafe_incoming_request_id_is_replaced(rf, clinician, clinic):
    def view(request):
        audit_record(actor=clinician, action=AuditAction.READ, obj=clinic, clinic=clinic)
        return HttpResponse()

    response = RequestIdMiddleware(view)(rf.get("/", HTTP_X_REQUEST_ID="<script>\n"))

    generated = response["X-Request-ID"]
    assert len(generated) == 32
    assert AuditEvent.objects.get().request_id == generated


def test_supervisor_reads_the_trail_of_own_clinics_only(client_for, supervisor, clinic, clinician):
    mine = audit_record(actor=clinician, action=AuditAction.READ, obj=clinic, clinic=clinic)
    elsewhere = ClinicFactory()
    audit_record(actor=clinician, action=AuditAction.READ, obj=elsewhere, clinic=elsewhere)

    response = client_for(supervisor).get("/api/v1/audit-events/")

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [mine.pk]


@pytest.mark.parametrize("role", ["admissions", "clinician"])
def test_other_roles_cannot_read_the_trail(client_for, clinic, role):
    user = staff_user(role=role, clinics=[clinic])

    response = client_for(user).get("/api/v1/audit-events/")

    assert response.status_code == 403


def test_nobody_can_write_the_trail_through_the_api(client_for, supervisor, event):
    client = client_for(supervisor)

    refused = (403, 405)
    assert client.post("/api/v1/audit-events/", {}).status_code in refused
    assert client.delete(f"/api/v1/audit-events/{event.pk}/").status_code in refused
    assert client.patch(f"/api/v1/audit-events/{event.pk}/", {}).status_code in refused
    event.refresh_from_db()
    assert event.action == AuditAction.READ


def test_admin_shows_the_trail_to_supervisors_without_edit_or_delete(client, supervisor, event):
    supervisor.is_staff = True
    supervisor.save(update_fields=["is_staff"])
    admin_login(client, supervisor)

    listing = client.get("/admin/clinic/auditevent/")
    change = client.post(f"/admin/clinic/auditevent/{event.pk}/delete/", {"post": "yes"})

    assert listing.status_code == 200
    assert change.status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_trail_is_paged_without_counting_it(client_for, clinic, clinician, supervisor):
    """The trail only grows: a page reads page_size + 1 rows to know whether another follows and
    never counts the table."""
    rows = [
        audit_record(actor=clinician, action=AuditAction.READ, obj=clinic, clinic=clinic)
        for _ in range(5)
    ]
    newest_first = [row.pk for row in reversed(rows)]
    client = client_for(supervisor)

    with CaptureQueriesContext(connection) as captured:
        first = client.get("/api/v1/audit-events/", {"page_size": 2}).json()
    # (Read before the next request: each one empties the connection's query log.)
    queries = [query["sql"] for query in captured]
    second = client.get(first["next"]).json()
    last = client.get(second["next"]).json()

    assert queries
    assert [sql for sql in queries if "COUNT(" in sql.upper()] == []
    assert first.keys() == {"next", "previous", "results"}
    assert [row["id"] for row in first["results"]] == newest_first[:2]
    assert first["previous"] is None
    assert [row["id"] for row in second["results"]] == newest_first[2:4]
    assert client.get(second["previous"]).json() == first
    assert [row["id"] for row in last["results"]] == newest_first[4:]
    assert last["next"] is None
    assert client.get("/api/v1/audit-events/", {"page_size": 2, "page": 4}).status_code == 404
