"""AUDIT-C: the three alcohol consumption questions, scored as the VA screens with them."""

from patients.instruments.base import Band, Instrument, Item, Option, Score, banded, sum_of

ITEMS = (
    Item(
        "1",
        "How often did you have a drink containing alcohol in the past year?",
        (
            Option(0, "Never"),
            Option(1, "Monthly or less"),
            Option(2, "2 to 4 times a month"),
            Option(3, "2 to 3 times a week"),
            Option(4, "4 or more times a week"),
        ),
    ),
    Item(
        "2",
        "How many drinks containing alcohol did you have on a typical day when you were "
        "drinking in the past year?",
        (
            Option(0, "1 or 2"),
            Option(1, "3 or 4"),
            Option(2, "5 or 6"),
            Option(3, "7 to 9"),
            Option(4, "10 or more"),
        ),
    ),
    Item(
        "3",
        "How often did you have six or more drinks on one occasion in the past year?",
        (
            Option(0, "Never"),
            Option(1, "Less than monthly"),
            Option(2, "Monthly"),
            Option(3, "Weekly"),
            Option(4, "Daily or almost daily"),
        ),
    ),
)

# Positive at 4 or more for men, 3 or more for women (Bradley et al. 2007). When the sex recorded
# for screening is unknown (""), the women's threshold applies: the cautious one, which sends a
# borderline drinker to a clinician's conversation rather than past it.
WOMEN_AND_UNKNOWN = ("female", "")
BANDS = (
    Band("negative", "Negative screen", 0, 2, sexes=WOMEN_AND_UNKNOWN),
    Band("positive", "Positive screen", 3, 12, sexes=WOMEN_AND_UNKNOWN),
    Band("negative", "Negative screen", 0, 3, sexes=("male",)),
    Band("positive", "Positive screen", 4, 12, sexes=("male",)),
)


def score_audit_c(answers: dict[str, int], sex: str) -> Score:
    """Total of the three items (0–12), positive from 4 for men and from 3 for women or unknown."""
    return banded(AUDIT_C, sum_of(answers, ("1", "2", "3")), sex=sex)


AUDIT_C = Instrument(
    code="audit_c",
    name="Alcohol Use Disorders Identification Test - Consumption",
    short_name="AUDIT-C",
    administered_by="patient",
    period="the past year",
    instructions="Answer each question about your drinking in the past year.",
    items=ITEMS,
    bands=BANDS,
    max_total=12,
    scorer=score_audit_c,
    source=(
        "Bush K, Kivlahan DR, McDonell MB, Fihn SD, Bradley KA. The AUDIT alcohol consumption "
        "questions (AUDIT-C). Arch Intern Med 1998;158(16):1789-1795; thresholds from Bradley "
        "KA et al. AUDIT-C as a brief screen for alcohol misuse in primary care. Alcohol Clin "
        "Exp Res 2007;31(7):1208-1217 (4 or more for men, 3 or more for women). The wording is "
        "the U.S. Department of Veterans Affairs' AUDIT-C, a work of the U.S. Government in the "
        "public domain. The full ten-item AUDIT is not shipped."
    ),
)
