"""The PDF renders: the staff copy carries the §2.32 notice on every page and the staff notes;
the patient's copy neither; no copy shows another patient."""

import io

import pytest
from pypdf import PdfReader

from programs.discharge_pdf import PATIENT_COPY, STAFF_COPY, discharge_summary_pdf
from programs.services import discharge_summaries as services
from tests.factories import ProgramFactory
from tests.programs.discharge.helpers import discharge, make_episode

pytestmark = pytest.mark.django_db

NOTICE_START = "This record which has been disclosed to you is protected"


def pages_text(pdf: bytes) -> list[str]:
    # Extracted text may break lines anywhere: compare with whitespace collapsed.
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture
def other_patients_summary(clinic, admissions, clinician, episode):
    """Another patient's discharged episode at the same clinic."""
    programs = (
        ProgramFactory(clinic=clinic, level="residential", name="Cedar House", capacity=8),
        ProgramFactory(clinic=clinic, level="iop", name="Day IOP", capacity=8),
    )
    other = make_episode(
        clinic,
        admissions,
        clinician,
        first_name="Zebulon",
        last_name="Quixworthy",
        programs=programs,
    )
    return discharge(other, clinician).summary


def test_the_staff_copy_has_the_notice_and_the_staff_notes(signed, other_patients_summary):
    services.discharge_summary_addendum_add(
        signed, actor=signed.signed_by, text="Lab results came back normal.", now=signed.signed_at
    )

    pdf = discharge_summary_pdf(signed, copy=STAFF_COPY)

    assert pdf.startswith(b"%PDF")
    pages = pages_text(pdf)
    assert all(NOTICE_START in page for page in pages)
    text = " ".join(pages)
    assert "42 CFR part 2" in text
    assert "Watch the brother's visits." in text
    assert "Ana" in text
    assert "Diaz" in text
    assert "Willow House" in text
    assert "Evening IOP" in text
    assert "Lab results came back normal." in text
    assert text.index("Lab results came back normal.") > text.index("Condition at discharge")
    assert "Zebulon" not in text
    assert "Quixworthy" not in text


def test_the_patient_copy_has_neither(signed, other_patients_summary):
    pdf = discharge_summary_pdf(signed, copy=PATIENT_COPY)

    assert pdf.startswith(b"%PDF")
    text = " ".join(pages_text(pdf))
    assert NOTICE_START not in text
    assert "Watch the brother" not in text
    assert "Staff notes" not in text
    assert "Stable, motivated." in text
    assert "Zebulon" not in text
    assert "Quixworthy" not in text


def test_a_long_summary_repeats_the_notice_on_every_page(episode, clinician):
    services.discharge_summary_update(
        episode.summary,
        actor=clinician,
        data={"course_of_treatment": "\n".join(f"Week {n}: steady progress." for n in range(120))},
    )
    episode.summary.refresh_from_db()

    pages = pages_text(discharge_summary_pdf(episode.summary, copy=STAFF_COPY))

    assert len(pages) > 1
    assert all(NOTICE_START in page for page in pages)


def test_no_pdf_library_is_a_clear_503(episode, monkeypatch):
    import builtins

    from programs.discharge_pdf import PdfUnavailable

    real_import = builtins.__import__

    def no_pango(name, *args, **kwargs):
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pango)

    with pytest.raises(PdfUnavailable) as error:
        discharge_summary_pdf(episode.summary, copy=STAFF_COPY)
    assert error.value.status_code == 503
    assert "pango" in error.value.detail
