"""BAM: the Brief Addiction Monitor (17 items, the past 30 days; no total, three subscales).

Answers are stored on each item's 0–4 scoring scale, the form's answer being the option's label
(for the day counts, the range of days the VA's scoring guide converts: 0, 1–3, 4–8, 9–15,
16–30), so each subscale is a plain sum of stored answers.
"""

from patients.instruments.base import Instrument, Item, Option, Score, sum_of

DAYS = (
    Option(0, "0 days"),
    Option(1, "1–3 days"),
    Option(2, "4–8 days"),
    Option(3, "9–15 days"),
    Option(4, "16–30 days"),
)
NIGHTS = tuple(Option(o.value, o.label.replace("days", "nights")) for o in DAYS)
EXTENT = (
    Option(0, "Not at all"),
    Option(1, "Slightly"),
    Option(2, "Moderately"),
    Option(3, "Considerably"),
    Option(4, "Extremely"),
)
HEALTH = (
    Option(0, "Excellent"),
    Option(1, "Very good"),
    Option(2, "Good"),
    Option(3, "Fair"),
    Option(4, "Poor"),
)
NO_YES = (Option(0, "No"), Option(4, "Yes"))

PAST_30 = "In the past 30 days, "
ANY_OF = PAST_30 + "how many days did you use any of the following drugs: "

ITEMS = (
    Item("1", PAST_30 + "would you say your physical health has been:", HEALTH),
    Item(
        "2",
        PAST_30 + "how many nights did you have trouble falling asleep or staying asleep?",
        NIGHTS,
    ),
    Item(
        "3",
        PAST_30 + "how many days have you felt depressed, anxious, angry or very upset "
        "throughout most of the day?",
        DAYS,
    ),
    Item("4", PAST_30 + "how many days did you drink ANY alcohol?", DAYS),
    Item(
        "5",
        PAST_30 + "how many days did you have at least 5 drinks (if you are a man) or at least "
        "4 drinks (if you are a woman)? [One drink is considered one shot of hard liquor "
        "(1.5 oz.) or 12-ounce can/bottle of beer or 5-ounce glass of wine.]",
        DAYS,
    ),
    Item(
        "6",
        PAST_30 + "how many days did you use any illegal/street drugs or abuse any "
        "prescription medications?",
        DAYS,
    ),
    # Item 7 has no answer of its own: it elaborates item 6 drug by drug, is scored on no
    # subscale, and so is optional (unscored) as 7A–7G.
    Item("7A", ANY_OF + "Marijuana (cannabis, pot, weed)?", DAYS, scored=False),
    Item(
        "7B",
        ANY_OF + 'Sedatives/Tranquilizers (e.g., "benzos", Valium, Xanax, Ativan, Ambien, '
        '"barbs", Phenobarbital, downers, etc.)?',
        DAYS,
        scored=False,
    ),
    Item("7C", ANY_OF + "Cocaine/Crack?", DAYS, scored=False),
    Item(
        "7D",
        ANY_OF + "Other Stimulants (e.g., amphetamine, methamphetamine, Dexedrine, Ritalin, "
        'Adderall, "speed", "crystal meth", "ice", etc.)?',
        DAYS,
        scored=False,
    ),
    Item(
        "7E",
        ANY_OF + "Opiates (e.g., Heroin, Morphine, Dilaudid, Demerol, Oxycontin, oxy, codeine "
        "(Tylenol 2,3,4), Percocet, Vicodin, Fentanyl, etc.)?",
        DAYS,
        scored=False,
    ),
    Item(
        "7F",
        ANY_OF + "Inhalants (glues, adhesives, nail polish remover, paint thinner, etc.)?",
        DAYS,
        scored=False,
    ),
    Item(
        "7G",
        ANY_OF + "Other drugs (steroids, non-prescription sleep/diet pills, Benadryl, Ephedra, "
        "other over-the-counter/unknown medications)?",
        DAYS,
        scored=False,
    ),
    Item(
        "8",
        PAST_30 + "how much were you bothered by cravings or urges to drink alcohol or use drugs?",
        EXTENT,
    ),
    Item(
        "9",
        "How confident are you in your ability to be completely abstinent (clean) from "
        "alcohol and drugs in the next 30 days?",
        EXTENT,
    ),
    Item(
        "10",
        PAST_30 + "how many days did you attend self-help meetings like AA or NA to get "
        "support for your recovery?",
        DAYS,
    ),
    Item(
        "11",
        PAST_30 + "how many days were you in any situations or with any people that might put "
        'you at an increased risk for using alcohol or drugs (i.e., around risky "people, '
        'places or things")?',
        DAYS,
    ),
    Item("12", "Does your religion or spirituality help support your recovery?", EXTENT),
    Item(
        "13",
        PAST_30 + "how many days did you spend much of the time at work, school, or doing "
        "volunteer work?",
        DAYS,
    ),
    Item(
        "14",
        "Do you have enough income (from legal sources) to pay for necessities such as "
        "housing, transportation, food and clothing for yourself and your dependents?",
        NO_YES,
    ),
    Item(
        "15",
        PAST_30 + "how much have you been bothered by arguments or problems getting along with "
        "any family members or friends?",
        EXTENT,
    ),
    Item(
        "16",
        PAST_30 + "how many days were you in contact or spent time with any family members or "
        "friends who are supportive of your recovery?",
        DAYS,
    ),
    Item(
        "17",
        "How satisfied are you with your progress toward achieving your recovery goals?",
        EXTENT,
    ),
)

# The VA's scoring guide: item 17 is on no subscale (an overall view of progress).
SUBSCALES = {
    "use": ("4", "5", "6"),
    "risk": ("1", "2", "3", "8", "11", "15"),
    "protective": ("9", "10", "12", "13", "14", "16"),
}


def score_bam(answers: dict[str, int], sex: str) -> Score:
    """No total: the use, risk and protective subscales (0–12, 0–24, 0–24), no band."""
    return Score(
        total=None,
        band="",
        subscales={name: sum_of(answers, keys) for name, keys in SUBSCALES.items()},
        safety=(),
        severe=False,
    )


BAM = Instrument(
    code="bam",
    name="Brief Addiction Monitor",
    short_name="BAM",
    administered_by="patient",
    period="the past 30 days",
    instructions=(
        "Answer each question about the past 30 days (questions 9, 12, 14 and 17 about how "
        "things are now). Questions 7A–7G are optional."
    ),
    items=ITEMS,
    bands=(),
    max_total=None,
    scorer=score_bam,
    source=(
        "Cacciola JS, Alterman AI, DePhilippis D, et al. Development and initial evaluation of "
        "the Brief Addiction Monitor (BAM). J Subst Abuse Treat 2013;44(3):256-263; items, the "
        "0-4 conversion of day counts and the subscales (use 4+5+6; risk 1+2+3+8+11+15; "
        "protective 9+10+12+13+14+16) from the U.S. Department of Veterans Affairs' BAM form "
        "and scoring guide (VISN 4 MIRECC and Philadelphia CESATE), a work of the U.S. "
        "Government in the public domain."
    ),
)
