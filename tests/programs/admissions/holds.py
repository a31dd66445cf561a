"""What the tests of admission holds share: a verified inquiry and a scheduled one."""

import datetime

from clinic.models import Bed
from programs.services import admission_holds
from tests.conftest import TUESDAY_10AM
from tests.factories import InquiryFactory, ProgramFactory

# The clinics' date at TUESDAY_10AM (New York).
TODAY = datetime.date(2026, 12, 1)


def days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)


def verified(clinic, admissions, **fields):
    """An inquiry of ``clinic`` with its benefits verified (eligible), ready to schedule."""
    return InquiryFactory(clinic=clinic, actor=admissions, status="verifying", **fields)


def residential_with_beds(clinic, *, capacity=2, beds=2, **fields):
    program = ProgramFactory(clinic=clinic, capacity=capacity, **fields)
    program.beds.add(
        *[Bed.objects.create(clinic=clinic, room="R", label=str(n)) for n in range(1, beds + 1)]
    )
    return program


def schedule(admissions, inquiry, program, admission_date=TODAY, **kwargs):
    return admission_holds.admission_schedule(
        actor=admissions,
        inquiry=inquiry,
        program=program,
        admission_date=admission_date,
        now=kwargs.pop("now", TUESDAY_10AM),
        **kwargs,
    )
