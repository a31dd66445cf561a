"""The step-down board counts each patient's unsigned notes at the clinic (issue 26, item 4):
drafts and notes awaiting co-signature, of any session, in the board's own query."""

import datetime

import pytest

from programs import reports
from tests.factories import admin_login
from tests.programs.notes_show.helpers import after_end, note
from tests.programs.reports.helpers import STEP_DOWN, admit

pytestmark = pytest.mark.django_db


@pytest.fixture
def stays(iop, patients, session, facilitator, supervisor):
    """Ana: a draft, one awaiting co-signature (an earlier session's) and a co-signed note;
    Ben: a signed note. Both admitted to the IOP."""
    for patient in patients[:2]:
        admit(patient, iop, datetime.date(2026, 11, 20))
    ana, ben = patients[:2]
    note(session, ana, facilitator)
    note(session, ben, facilitator, signed_at=after_end(1))
    earlier = session.__class__.objects.create(
        clinic=session.clinic,
        program=iop,
        title="Earlier group",
        kind="group",
        starts_at=session.starts_at - datetime.timedelta(days=2),
        ends_at=session.ends_at - datetime.timedelta(days=2),
    )
    later = session.__class__.objects.create(
        clinic=session.clinic,
        program=iop,
        title="Later group",
        kind="group",
        starts_at=session.starts_at + datetime.timedelta(days=1),
        ends_at=session.ends_at + datetime.timedelta(days=1),
    )
    note(earlier, ana, facilitator, signed_at=after_end(-40), cosign=True)
    note(later, ana, facilitator, signed_at=after_end(30), cosigned_by=supervisor)
    return {"Rivera, Ana": 2, "Rivera, Ben": 0}


def test_each_row_counts_the_patients_unsigned_notes(supervisor, stays):
    board = {
        row["patient_name"]: row["unsigned_notes"]
        for row in reports.step_down_board(user=supervisor)
    }

    assert board == stays


def test_the_board_api_and_admin_show_the_count(client_for, client, supervisor, stays):
    rows = client_for(supervisor).get(STEP_DOWN).json()["results"]
    supervisor.is_staff = True
    supervisor.save(update_fields=["is_staff"])
    admin_login(client, supervisor)
    page = client.get("/admin/programs/enrollment/step-down/").content.decode()

    assert {row["patient_name"]: row["unsigned_notes"] for row in rows} == stays
    assert "<th>Unsigned notes</th>" in page
    assert '<td class="unsigned-notes">2</td>' in page
