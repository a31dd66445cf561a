"""The measurement-based care instruments, as data plus one scoring function each.

Pure: no models, no database. Each instrument's module holds its item texts and options as data
and its one scorer; this package holds the shared shapes, the registry and the two entry points
the rest of the product uses: ``validate_answers`` (every bad item named at once, as a
``ValidationError`` keyed ``answers.<item>``) and ``score``.

Only instruments free to use in a commercial product ship here. The full AUDIT and the DAST-10
are left out on purpose: they are not free for commercial use.
"""

from collections import defaultdict

from django.core.exceptions import ValidationError

from patients.instruments.audit_c import AUDIT_C
from patients.instruments.bam import BAM
from patients.instruments.base import (
    SEXES,
    Band,
    Instrument,
    Item,
    Option,
    Score,
    Scorer,
    band_of,
)
from patients.instruments.ciwa_ar import CIWA_AR
from patients.instruments.cows import COWS
from patients.instruments.gad7 import GAD7
from patients.instruments.phq9 import PHQ9

__all__ = [
    "INSTRUMENTS",
    "INSTRUMENT_CHOICES",
    "SEXES",
    "Band",
    "Instrument",
    "Item",
    "Option",
    "Score",
    "Scorer",
    "band_of",
    "score",
    "validate_answers",
]

INSTRUMENTS: dict[str, Instrument] = {
    instrument.code: instrument for instrument in (PHQ9, GAD7, AUDIT_C, BAM, CIWA_AR, COWS)
}
INSTRUMENT_CHOICES = [(code, instrument.short_name) for code, instrument in INSTRUMENTS.items()]


def _choose_one_of(item: Item) -> str:
    return f"Item {item.key}: choose one of {', '.join(str(v) for v in item.values)}."


def validate_answers(instrument: Instrument, answers) -> dict[str, int]:
    """``answers`` as a dict of item key → chosen value, or a ValidationError naming every bad
    item at once: a missing scored item, a value that is not one of the item's options (an
    integer; ``True`` is not 1), a key that is not one of the instrument's items."""
    if not isinstance(answers, dict):
        raise ValidationError(
            {"answers": ["Answers are an object of item number to the chosen value."]}
        )
    errors: dict[str, list[str]] = defaultdict(list)
    valid: dict[str, int] = {}
    for item in instrument.items:
        if item.key not in answers:
            if item.scored:
                errors[f"answers.{item.key}"].append(_choose_one_of(item))
            continue
        value = answers[item.key]
        if isinstance(value, bool) or not isinstance(value, int) or value not in item.values:
            errors[f"answers.{item.key}"].append(_choose_one_of(item))
        else:
            valid[item.key] = value
    keys = {item.key for item in instrument.items}
    for key in answers:
        if not isinstance(key, str):
            errors[f"answers.{key}"].append(f'Item keys are strings: "{key}", not {key}.')
        elif key not in keys:
            errors[f"answers.{key}"].append(
                f"Item {key} is not a question of the {instrument.short_name}."
            )
    if errors:
        raise ValidationError(dict(errors))
    return valid


def score(code: str, answers, *, sex: str = "") -> Score:
    """Validate ``answers`` for the instrument ``code`` and score them; ``sex`` as recorded for
    screening ("female", "male" or "" for unknown) matters to AUDIT-C only."""
    instrument = INSTRUMENTS.get(code)
    if instrument is None:
        raise ValidationError({"instrument": [f"Choose one of {', '.join(sorted(INSTRUMENTS))}."]})
    if sex not in SEXES:
        raise ValidationError({"sex": ['Sex is "female", "male" or "" (not recorded).']})
    return instrument.scorer(validate_answers(instrument, answers), sex)
