import datetime

import pytest

from tests.factories import ConsentFactory, PatientFactory, staff_user
from tests.programs.notes_privacy.helpers import (
    addendum,
    attended,
    group_part,
    note,
    session_of,
)

# A week before the suite's usual Tuesday, in the evening in New York.
GROUP_AT = datetime.datetime(2026, 11, 24, 23, tzinfo=datetime.UTC)
INDIVIDUAL_AT = datetime.datetime(2026, 11, 26, 15, tzinfo=datetime.UTC)

# Every note's text carries a marker, so a test can tell which notes went where.
MARKERS = {
    "group": "Marker group part: urge surfing",
    "signed": "Marker A signed participation",
    "addendum": "Marker A addendum",
    "draft": "Marker A draft",
    "awaiting": "Marker A awaiting co-signature",
    "psychotherapy": "Marker A psychotherapy",
    "dap": "Marker A individual DAP",
    "b": "Marker B participation",
    "c": "Marker C participation",
}


@pytest.fixture
def notes_world(clinic, frozen_time):
    """Avery attended a group with Blake and Casey; every patient has a signed group note. Avery
    also has a signed DAP note with an addendum, a draft, a note awaiting co-signature and a
    signed psychotherapy note. Avery's consent covers everything but psychotherapy notes."""
    admissions = staff_user(role="admissions", clinics=[clinic], is_staff=True)
    clinician = staff_user(role="clinician", clinics=[clinic], is_staff=True)
    supervisor = staff_user(role="supervisor", clinics=[clinic], is_staff=True)
    avery = PatientFactory(
        clinic=clinic, actor=admissions, first_name="Avery", last_name="Quillfeather"
    )
    blake = PatientFactory(
        clinic=clinic, actor=admissions, first_name="Blakemore", last_name="Marrowfield"
    )
    casey = PatientFactory(
        clinic=clinic, actor=admissions, first_name="Caseyanne", last_name="Thornbury"
    )
    group = session_of(clinic, GROUP_AT, facilitator=clinician)
    part = group_part(group, author=clinician, topic=MARKERS["group"])
    notes = {}
    for patient, key in ((avery, "signed"), (blake, "b"), (casey, "c")):
        notes[key] = note(
            session=group,
            patient=patient,
            author=clinician,
            attendance=attended(group, patient, recorded_by=clinician),
            group=part,
            sections={"participation": MARKERS[key], "plan": "Keep the craving log."},
        )
    addendum(notes["signed"], author=clinician, text=MARKERS["addendum"])
    for n, (key, options) in enumerate(
        (
            ("dap", {}),
            ("draft", {"signed": False}),
            ("awaiting", {"cosignature_required": True}),
            ("psychotherapy", {"psychotherapy": True}),
        )
    ):
        session = session_of(
            clinic,
            INDIVIDUAL_AT + datetime.timedelta(hours=4 * n),
            kind="individual",
            facilitator=clinician,
            title="Individual session",
        )
        notes[key] = note(
            session=session,
            patient=avery,
            author=clinician,
            attendance=attended(session, avery, recorded_by=clinician),
            sections={"data": MARKERS[key], "assessment": "Stable.", "plan": "Continue."},
            **options,
        )
    consent = ConsentFactory(patient=avery, tpo=True, actor=admissions)
    return {
        "clinic": clinic,
        "admissions": admissions,
        "clinician": clinician,
        "supervisor": supervisor,
        "avery": avery,
        "blake": blake,
        "casey": casey,
        "group": group,
        "notes": notes,
        "consent": consent,
    }
