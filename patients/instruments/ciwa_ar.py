"""CIWA-Ar: the Clinical Institute Withdrawal Assessment for Alcohol, revised (clinician-rated).

Nine signs and symptoms rated 0–7 and orientation rated 0–4 (item 10); the form anchors some
values only, the others lie between their neighbours and are labelled by their number.
"""

from patients.instruments.base import Band, Instrument, Item, Option, Score, banded, sum_of


def _anchored(anchors: dict[int, str], top: int = 7) -> tuple[Option, ...]:
    return tuple(Option(value, anchors.get(value, str(value))) for value in range(top + 1))


def _hallucinations(low: dict[int, str]) -> tuple[Option, ...]:
    return _anchored(
        {
            **low,
            4: "Moderately severe hallucinations",
            5: "Severe hallucinations",
            6: "Extremely severe hallucinations",
            7: "Continuous hallucinations",
        }
    )


ITEMS = (
    Item(
        "1",
        'Nausea and vomiting. Ask "Do you feel sick to your stomach? Have you vomited?" '
        "Observation.",
        _anchored(
            {
                0: "No nausea and no vomiting",
                1: "Mild nausea with no vomiting",
                4: "Intermittent nausea with dry heaves",
                7: "Constant nausea, frequent dry heaves and vomiting",
            }
        ),
    ),
    Item(
        "2",
        "Tremor. Arms extended and fingers spread apart. Observation.",
        _anchored(
            {
                0: "No tremor",
                1: "Not visible, but can be felt fingertip to fingertip",
                4: "Moderate, with patient's arms extended",
                7: "Severe, even with arms not extended",
            }
        ),
    ),
    Item(
        "3",
        "Paroxysmal sweats. Observation.",
        _anchored(
            {
                0: "No sweat visible",
                1: "Barely perceptible sweating, palms moist",
                4: "Beads of sweat obvious on forehead",
                7: "Drenching sweats",
            }
        ),
    ),
    Item(
        "4",
        'Anxiety. Ask "Do you feel nervous?" Observation.',
        _anchored(
            {
                0: "No anxiety, at ease",
                1: "Mildly anxious",
                4: "Moderately anxious, or guarded, so anxiety is inferred",
                7: "Equivalent to acute panic states as seen in severe delirium or acute "
                "schizophrenic reactions",
            }
        ),
    ),
    Item(
        "5",
        "Agitation. Observation.",
        _anchored(
            {
                0: "Normal activity",
                1: "Somewhat more than normal activity",
                4: "Moderately fidgety and restless",
                7: "Paces back and forth during most of the interview, or constantly thrashes "
                "about",
            }
        ),
    ),
    Item(
        "6",
        'Tactile disturbances. Ask "Have you any itching, pins and needles sensations, any '
        'burning, any numbness, or do you feel bugs crawling on or under your skin?" '
        "Observation.",
        _hallucinations(
            {
                0: "None",
                1: "Very mild itching, pins and needles, burning or numbness",
                2: "Mild itching, pins and needles, burning or numbness",
                3: "Moderate itching, pins and needles, burning or numbness",
            }
        ),
    ),
    Item(
        "7",
        'Auditory disturbances. Ask "Are you more aware of sounds around you? Are they harsh? '
        "Do they frighten you? Are you hearing anything that is disturbing to you? Are you "
        'hearing things you know are not there?" Observation.',
        _hallucinations(
            {
                0: "Not present",
                1: "Very mild harshness or ability to frighten",
                2: "Mild harshness or ability to frighten",
                3: "Moderate harshness or ability to frighten",
            }
        ),
    ),
    Item(
        "8",
        'Visual disturbances. Ask "Does the light appear to be too bright? Is its color '
        "different? Does it hurt your eyes? Are you seeing anything that is disturbing to you? "
        'Are you seeing things you know are not there?" Observation.',
        _hallucinations(
            {
                0: "Not present",
                1: "Very mild sensitivity",
                2: "Mild sensitivity",
                3: "Moderate sensitivity",
            }
        ),
    ),
    Item(
        "9",
        'Headache, fullness in head. Ask "Does your head feel different? Does it feel like '
        'there is a band around your head?" Do not rate for dizziness or lightheadedness; '
        "otherwise, rate severity.",
        _anchored(
            {
                0: "Not present",
                1: "Very mild",
                2: "Mild",
                3: "Moderate",
                4: "Moderately severe",
                5: "Severe",
                6: "Very severe",
                7: "Extremely severe",
            }
        ),
    ),
    Item(
        "10",
        'Orientation and clouding of sensorium. Ask "What day is this? Where are you? Who am I?"',
        _anchored(
            {
                0: "Oriented and can do serial additions",
                1: "Cannot do serial additions or is uncertain about date",
                2: "Disoriented for date by no more than 2 calendar days",
                3: "Disoriented for date by more than 2 calendar days",
                4: "Disoriented for place and/or person",
            },
            top=4,
        ),
    ),
)

# ASAM's 2020 guideline (Table 1): mild under 10, moderate 10–18, severe 19 or more. Sullivan
# et al. put "no medication usually needed" under 8–10; sources differ above that, so the
# guideline the clinics' prescribers follow sets the cut-offs.
BANDS = (
    Band("mild", "Absent or mild withdrawal", 0, 9),
    Band("moderate", "Moderate withdrawal", 10, 18),
    Band("severe", "Severe withdrawal", 19, 67, severe=True),
)


def score_ciwa_ar(answers: dict[str, int], sex: str) -> Score:
    """Total of the ten items (0–67) in ASAM's bands (under 10, 10–18, 19 or more)."""
    return banded(CIWA_AR, sum_of(answers, (item.key for item in ITEMS)))


CIWA_AR = Instrument(
    code="ciwa_ar",
    name="Clinical Institute Withdrawal Assessment for Alcohol, revised",
    short_name="CIWA-Ar",
    administered_by="clinician",
    period="now",
    instructions=(
        "Rate each sign or symptom as observed and reported at this assessment: items 1–9 "
        "from 0 to 7, orientation (item 10) from 0 to 4. Pulse and blood pressure are "
        "recorded beside the scale, not scored."
    ),
    items=ITEMS,
    bands=BANDS,
    max_total=67,
    scorer=score_ciwa_ar,
    source=(
        "Sullivan JT, Sykora K, Schneiderman J, Naranjo CA, Sellers EM. Assessment of alcohol "
        "withdrawal: the revised Clinical Institute Withdrawal Assessment for Alcohol scale "
        "(CIWA-Ar). Br J Addict 1989;84(11):1353-1357; the form states that it is not "
        "copyrighted and may be reproduced freely. Bands from the American Society of "
        "Addiction Medicine, The ASAM Clinical Practice Guideline on Alcohol Withdrawal "
        "Management, J Addict Med 2020;14(3S Suppl 1):1-72 (mild under 10, moderate 10-18, "
        "severe 19 or more)."
    ),
)
