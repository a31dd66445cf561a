"""PHQ-9: the nine-item depression module of the Patient Health Questionnaire."""

from patients.instruments.base import Band, Instrument, Item, Option, Score, banded, sum_of

FREQUENCY = (
    Option(0, "Not at all"),
    Option(1, "Several days"),
    Option(2, "More than half the days"),
    Option(3, "Nearly every day"),
)

ITEMS = tuple(
    Item(str(number), text, FREQUENCY)
    for number, text in enumerate(
        (
            "Little interest or pleasure in doing things",
            "Feeling down, depressed, or hopeless",
            "Trouble falling or staying asleep, or sleeping too much",
            "Feeling tired or having little energy",
            "Poor appetite or overeating",
            "Feeling bad about yourself — or that you are a failure or have let yourself or "
            "your family down",
            "Trouble concentrating on things, such as reading the newspaper or watching television",
            "Moving or speaking so slowly that other people could have noticed? Or the opposite "
            "— being so fidgety or restless that you have been moving around a lot more than "
            "usual",
            "Thoughts that you would be better off dead or of hurting yourself in some way",
        ),
        start=1,
    )
)

BANDS = (
    Band("minimal", "Minimal depression", 0, 4),
    Band("mild", "Mild depression", 5, 9),
    Band("moderate", "Moderate depression", 10, 14),
    Band("moderately_severe", "Moderately severe depression", 15, 19),
    Band("severe", "Severe depression", 20, 27, severe=True),
)

# Item 9 asks about thoughts of death or self-harm: any answer above "Not at all" is flagged for
# a clinician the same day, whatever the total (Kroenke et al. 2001 ask for a suicide risk
# assessment whenever it is endorsed).
SELF_HARM_THOUGHTS = "self_harm_thoughts"


def score_phq9(answers: dict[str, int], sex: str) -> Score:
    """Total of the nine items (0–27) in the published bands; item 9 above 0 is a safety flag."""
    total = sum_of(answers, (item.key for item in ITEMS))
    safety = (SELF_HARM_THOUGHTS,) if answers["9"] > 0 else ()
    return banded(PHQ9, total, safety=safety)


PHQ9 = Instrument(
    code="phq9",
    name="Patient Health Questionnaire-9",
    short_name="PHQ-9",
    administered_by="patient",
    period="the last 2 weeks",
    instructions=(
        "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
    ),
    items=ITEMS,
    bands=BANDS,
    max_total=27,
    scorer=score_phq9,
    source=(
        "Kroenke K, Spitzer RL, Williams JBW. The PHQ-9: validity of a brief depression severity "
        "measure. J Gen Intern Med 2001;16(9):606-613 (items and the bands 5/10/15/20). "
        "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues "
        "with an educational grant from Pfizer Inc.; the PHQ screeners' notice reads 'No "
        "permission required to reproduce, translate, display or distribute', so it is free "
        "to use, also commercially."
    ),
)
