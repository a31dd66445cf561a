"""GAD-7: the seven-item generalized anxiety disorder scale."""

from patients.instruments.base import Band, Instrument, Item, Score, banded, sum_of
from patients.instruments.phq9 import FREQUENCY

ITEMS = tuple(
    Item(str(number), text, FREQUENCY)
    for number, text in enumerate(
        (
            "Feeling nervous, anxious, or on edge",
            "Not being able to stop or control worrying",
            "Worrying too much about different things",
            "Trouble relaxing",
            "Being so restless that it is hard to sit still",
            "Becoming easily annoyed or irritable",
            "Feeling afraid, as if something awful might happen",
        ),
        start=1,
    )
)

BANDS = (
    Band("minimal", "Minimal anxiety", 0, 4),
    Band("mild", "Mild anxiety", 5, 9),
    Band("moderate", "Moderate anxiety", 10, 14),
    Band("severe", "Severe anxiety", 15, 21, severe=True),
)


def score_gad7(answers: dict[str, int], sex: str) -> Score:
    """Total of the seven items (0–21) in the published bands 5/10/15."""
    return banded(GAD7, sum_of(answers, (item.key for item in ITEMS)))


GAD7 = Instrument(
    code="gad7",
    name="Generalized Anxiety Disorder-7",
    short_name="GAD-7",
    administered_by="patient",
    period="the last 2 weeks",
    instructions=(
        "Over the last 2 weeks, how often have you been bothered by the following problems?"
    ),
    items=ITEMS,
    bands=BANDS,
    max_total=21,
    scorer=score_gad7,
    source=(
        "Spitzer RL, Kroenke K, Williams JBW, Löwe B. A brief measure for assessing generalized "
        "anxiety disorder: the GAD-7. Arch Intern Med 2006;166(10):1092-1097 (items and the "
        "bands 5/10/15). Part of the PHQ screeners, developed with an educational grant from "
        "Pfizer Inc.: 'No permission required to reproduce, translate, display or distribute', "
        "so it is free to use, also commercially."
    ),
)
