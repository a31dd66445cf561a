"""Measurement-based care (issue 24): programs' measure schedules, what is due, the patient's and
the clinicians' responses scored by the instruments' own functions (``patients.instruments``),
the safety net and the neutral reminders."""

from patients.models import Level
from programs.models import MeasureSchedule, Program

# A new program's schedules by its level (DOMAIN.md): PHQ-9 and GAD-7 at admission, every 14
# days and before discharge everywhere; the BAM at admission and every 30 days in IOP and
# outpatient; CIWA-Ar and COWS on a clinician's order in residential (withdrawal management).
_MOOD = [
    ("phq9", {"at_admission": True, "every_days": 14, "at_discharge": True}),
    ("gad7", {"at_admission": True, "every_days": 14, "at_discharge": True}),
]
_BAM = [("bam", {"at_admission": True, "every_days": 30})]
_WITHDRAWAL = [("ciwa_ar", {"by_order": True}), ("cows", {"by_order": True})]
DEFAULT_SCHEDULES = {
    Level.RESIDENTIAL: _MOOD + _WITHDRAWAL,
    Level.PHP: _MOOD,
    Level.IOP: _MOOD + _BAM,
    Level.OUTPATIENT: _MOOD + _BAM,
}


def measure_schedules_seed(program: Program) -> None:
    """Give ``program`` its level's default schedules it lacks (idempotent: an instrument it
    already schedules is kept as it is)."""
    MeasureSchedule.objects.bulk_create(
        [
            MeasureSchedule(program=program, instrument=instrument, **when)
            for instrument, when in DEFAULT_SCHEDULES[program.level]
        ],
        ignore_conflicts=True,
    )
