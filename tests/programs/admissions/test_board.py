"""The admissions board (issue 28, item 6): the open inquiries of the staff member's clinics by
stage with the overdue ones flagged, today's scheduled admissions and the held beds, in a
constant number of queries, audited, never another clinic's."""

import datetime

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditAction, AuditEvent, Bed
from programs import selectors
from programs.locks import inquiry_lock
from programs.models import AdmissionHold, InquiryStatus
from programs.services import inquiries
from tests.conftest import TUESDAY_10AM
from tests.factories import InquiryFactory, ProgramFactory, staff_user
from tests.programs.admin.helpers import html, log_in

pytestmark = pytest.mark.django_db

BOARD = "/admin/programs/inquiry/board/"
TODAY = datetime.date(2026, 12, 1)
LAST_WEEK = TUESDAY_10AM - datetime.timedelta(days=7)


def scheduled(clinic, program, admission_date, *, bed=None, **fields):
    """An inquiry verified, then scheduled with a place held in ``program`` (the hold written as
    the scheduling step writes it)."""
    actor = staff_user(role="admissions", clinics=[clinic])
    inquiry = InquiryFactory(clinic=clinic, status=InquiryStatus.VERIFYING, actor=actor, **fields)
    with transaction.atomic():
        inquiries.inquiry_status_move(
            inquiry_lock(inquiry.pk), to_status=InquiryStatus.SCHEDULED, actor=actor, now=LAST_WEEK
        )
        AdmissionHold.objects.create(
            inquiry=inquiry,
            program=program,
            bed=bed,
            admission_date=admission_date,
            lapses_on=admission_date + datetime.timedelta(days=1),
            created_by=actor,
            created_at=LAST_WEEK,
        )
    return inquiry


@pytest.fixture
def desk(clinic):
    """One inquiry per stage (the new one overdue), a scheduled admission today in a held bed,
    one next week in another held bed, one next week without a bed."""
    program = ProgramFactory(clinic=clinic, name="Cedar House")
    beds = [Bed.objects.create(clinic=clinic, room="A", label=str(n)) for n in (1, 2)]
    with time_machine.travel(LAST_WEEK, tick=False):
        world = {
            "new": InquiryFactory(clinic=clinic, first_name="Nadia", last_name="Overdue"),
            "screening": InquiryFactory(
                clinic=clinic,
                status=InquiryStatus.SCREENING,
                next_contact_on=TODAY,
                first_name="Sam",
                last_name="Screened",
            ),
            "verifying": InquiryFactory(
                clinic=clinic,
                status=InquiryStatus.VERIFYING,
                next_contact_on=TODAY + datetime.timedelta(days=1),
                first_name="Val",
                last_name="Verifying",
            ),
            "today": scheduled(
                clinic, program, TODAY, bed=beds[0], first_name="Toni", last_name="Arriving"
            ),
            "next_week": scheduled(
                clinic,
                program,
                TODAY + datetime.timedelta(days=7),
                bed=beds[1],
                first_name="Wes",
                last_name="Later",
            ),
            "no_bed": scheduled(
                clinic,
                program,
                TODAY + datetime.timedelta(days=7),
                first_name="Nell",
                last_name="Nobed",
            ),
        }
    return world


def test_the_board_has_a_column_per_open_stage_with_the_overdue_flagged(desk, clinic):
    user = staff_user(role="clinician", clinics=[clinic])

    board = selectors.inquiry_board(user=user, now=TUESDAY_10AM)

    columns = {
        column["status"]: [(i.pk, i.overdue) for i in column["inquiries"]]
        for column in board["columns"]
    }
    assert list(columns) == ["new", "screening", "verifying", "scheduled"]
    assert columns["new"] == [(desk["new"].pk, True)]
    assert columns["screening"] == [(desk["screening"].pk, False)]
    assert columns["verifying"] == [(desk["verifying"].pk, False)]
    # The scheduled ones never had a next contact date and came in last week: overdue too.
    assert {pk for pk, _ in columns["scheduled"]} == {
        desk["today"].pk,
        desk["next_week"].pk,
        desk["no_bed"].pk,
    }
    assert [column["overdue"] for column in board["columns"]] == [1, 0, 0, 3]
    assert [hold.inquiry_id for hold in board["admissions_today"]] == [desk["today"].pk]
    assert [hold.inquiry_id for hold in board["held_beds"]] == [
        desk["today"].pk,
        desk["next_week"].pk,
    ]


def test_today_is_the_clinic_s_today(desk, clinic):
    """At 20:00 in New York on Monday it is already Tuesday in UTC: the admission dated Tuesday
    is not today's yet."""
    monday_evening = datetime.datetime(2026, 12, 1, 1, tzinfo=datetime.UTC)
    user = staff_user(role="admissions", clinics=[clinic])

    board = selectors.inquiry_board(user=user, now=monday_evening)

    assert board["admissions_today"] == []


def test_closed_inquiries_and_released_holds_leave_the_board(desk, clinic, admissions):
    with transaction.atomic():
        inquiries.inquiry_status_move(
            inquiry_lock(desk["screening"].pk),
            to_status=InquiryStatus.NOT_ADMITTED,
            not_admitted_reason="no_coverage",
            actor=admissions,
            now=TUESDAY_10AM,
        )
    AdmissionHold.objects.filter(inquiry=desk["next_week"]).update(
        status="released", closed_at=TUESDAY_10AM
    )

    board = selectors.inquiry_board(user=admissions, now=TUESDAY_10AM)

    assert board["columns"][1]["inquiries"] == []
    assert [hold.inquiry_id for hold in board["held_beds"]] == [desk["today"].pk]


def test_the_board_s_queries_do_not_grow_with_it(desk, clinic, admissions):
    def queries():
        admissions._continuum_clinic_ids = [clinic.pk]  # the caller's clinics, read once
        with CaptureQueriesContext(connection) as captured:
            board = selectors.inquiry_board(user=admissions, now=TUESDAY_10AM)
            # What the admin's page reads of each card and row.
            shown = [
                (inquiry.referral_source.name, inquiry.program, inquiry.display_name)
                for column in board["columns"]
                for inquiry in column["inquiries"]
            ]
            shown += [
                (hold.inquiry.display_name, hold.program.name, str(hold.bed))
                for hold in [*board["admissions_today"], *board["held_beds"]]
            ]
        return len(captured)

    few = queries()
    program = ProgramFactory(clinic=clinic)
    with time_machine.travel(LAST_WEEK, tick=False):
        for n in range(4):
            InquiryFactory(clinic=clinic, status=InquiryStatus.SCREENING, program=program)
            bed = Bed.objects.create(clinic=clinic, room="B", label=str(n))
            scheduled(clinic, program, TODAY, bed=bed)

    assert few == queries() == 2


def test_the_admin_board_shows_the_desk_audited_and_scoped(desk, client, clinic, other_clinic):
    with time_machine.travel(LAST_WEEK, tick=False):
        InquiryFactory(clinic=other_clinic, first_name="Zebulon", last_name="Elsewhere")
    user = staff_user(role="admissions", clinics=[clinic])
    log_in(client, user)

    with time_machine.travel(TUESDAY_10AM, tick=False):
        response = client.get(BOARD)
        changelist = client.get("/admin/programs/inquiry/")

    page = html(response)
    assert response.status_code == 200
    assert response["Cache-Control"].count("no-store") == 1
    for name in ("Overdue, Nadia", "Screened, Sam", "Verifying, Val", "Arriving, Toni"):
        assert name in page
    assert "Zebulon" not in page
    assert 'id="column-scheduled"' in page
    assert page.count('class="board-card overdue"') == 4
    today = page.split('id="admissions-today"')[1].split('id="held-beds"')[0]
    assert "Arriving, Toni" in today
    assert "Later, Wes" not in today
    held = page.split('id="held-beds"')[1]
    assert "Arriving, Toni" in held
    assert "Later, Wes" in held
    assert "Nobed, Nell" not in held
    listed = set(
        AuditEvent.objects.filter(
            actor=user, action=AuditAction.LIST, object_type="programs.inquiry"
        ).values_list("object_id", flat=True)
    )
    assert listed >= {str(inquiry.pk) for inquiry in desk.values()}
    assert BOARD in html(changelist)


def test_a_user_without_a_staff_role_is_refused(client, user_without_role):
    log_in(client, user_without_role)

    assert client.get(BOARD).status_code == 403
