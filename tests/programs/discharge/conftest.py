"""The fixtures the modules of discharge/ share."""

import pytest

from tests.programs.discharge.helpers import complete, discharge, make_episode


@pytest.fixture
def episode(clinic, admissions, clinician):
    """Ana Diaz's episode, discharged: a draft summary."""
    return discharge(make_episode(clinic, admissions, clinician), clinician)


@pytest.fixture
def signed(episode, clinician):
    """Ana Diaz's summary, completed (with staff notes) and signed."""
    import datetime

    from programs.services import discharge_summaries

    summary = complete(episode.summary, clinician, staff_notes="Watch the brother's visits.")
    return discharge_summaries.discharge_summary_sign(
        summary, actor=clinician, now=datetime.datetime(2026, 11, 17, 15, tzinfo=datetime.UTC)
    )
