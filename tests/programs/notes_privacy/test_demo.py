"""The demo's session notes: one past IOP group with its group part and three attendee notes
(signed, a late draft, one awaiting the supervisor's co-signature of the intern's note) and an
individual session's signed DAP note; seeded once, without new users."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from clinic.models import ClinicMembership
from patients.models import Level
from programs.models import GroupNote, ProgressNote
from programs.selectors import progress_note_deadline, progress_note_late_q

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_group_sessions_notes_and_an_individual_note(settings):
    settings.DEBUG = True

    call_command("seed_demo")
    call_command("seed_demo")

    assert get_user_model().objects.count() == 5
    group = GroupNote.objects.select_related("session__program").get()
    assert group.session.program.level == Level.IOP
    assert group.session.title == "IOP process group"
    assert group.session.ends_at < timezone.now()
    attendee_notes = ProgressNote.objects.filter(group_note=group).annotate(
        deadline=progress_note_deadline()
    )
    statuses = sorted(n.status for n in attendee_notes)
    assert statuses == ["awaiting_cosignature", "draft", "signed"]
    draft = attendee_notes.get(signed_at__isnull=True)
    assert attendee_notes.filter(progress_note_late_q(timezone.now())).get() == draft
    # Every attendee note is of a patient who attended.
    assert all(n.attendance.status in ("present", "late") for n in attendee_notes)
    awaiting = next(n for n in attendee_notes if n.awaiting_cosignature)
    assert ClinicMembership.objects.get(user=awaiting.author).requires_cosignature
    signed = next(n for n in attendee_notes if n.status == "signed")
    assert signed.cosigned_by.username == "supervisor"
    individual = ProgressNote.objects.get(group_note__isnull=True)
    assert individual.format == "dap"
    assert individual.session.kind == "individual"
    assert individual.status == "signed"
    assert set(individual.sections) == {"data", "assessment", "plan"}
    assert ProgressNote.objects.count() == 4
