"""COWS: the Clinical Opiate Withdrawal Scale (eleven clinician-rated signs and symptoms).

Each item has only its published values (resting pulse 0, 1, 2 or 4; gooseflesh 0, 3 or 5...),
so a value between them is refused rather than scored.
"""

from patients.instruments.base import Band, Instrument, Item, Option, Score, banded, sum_of


def _options(*pairs: tuple[int, str]) -> tuple[Option, ...]:
    return tuple(Option(value, label) for value, label in pairs)


ITEMS = (
    Item(
        "1",
        "Resting pulse rate (beats/minute), measured after the patient is sitting or lying "
        "for one minute.",
        _options(
            (0, "Pulse rate 80 or below"),
            (1, "Pulse rate 81–100"),
            (2, "Pulse rate 101–120"),
            (4, "Pulse rate greater than 120"),
        ),
    ),
    Item(
        "2",
        "Sweating: over the past half hour, not accounted for by room temperature or patient "
        "activity.",
        _options(
            (0, "No report of chills or flushing"),
            (1, "Subjective report of chills or flushing"),
            (2, "Flushed or observable moistness on face"),
            (3, "Beads of sweat on brow or face"),
            (4, "Sweat streaming off face"),
        ),
    ),
    Item(
        "3",
        "Restlessness: observation during assessment.",
        _options(
            (0, "Able to sit still"),
            (1, "Reports difficulty sitting still, but is able to do so"),
            (3, "Frequent shifting or extraneous movements of legs/arms"),
            (5, "Unable to sit still for more than a few seconds"),
        ),
    ),
    Item(
        "4",
        "Pupil size.",
        _options(
            (0, "Pupils pinned or normal size for room light"),
            (1, "Pupils possibly larger than normal for room light"),
            (2, "Pupils moderately dilated"),
            (5, "Pupils so dilated that only the rim of the iris is visible"),
        ),
    ),
    Item(
        "5",
        "Bone or joint aches: if the patient was having pain previously, only the additional "
        "component attributed to opiate withdrawal is scored.",
        _options(
            (0, "Not present"),
            (1, "Mild diffuse discomfort"),
            (2, "Patient reports severe diffuse aching of joints/muscles"),
            (
                4,
                "Patient is rubbing joints or muscles and is unable to sit still because of "
                "discomfort",
            ),
        ),
    ),
    Item(
        "6",
        "Runny nose or tearing: not accounted for by cold symptoms or allergies.",
        _options(
            (0, "Not present"),
            (1, "Nasal stuffiness or unusually moist eyes"),
            (2, "Nose running or tearing"),
            (4, "Nose constantly running or tears streaming down cheeks"),
        ),
    ),
    Item(
        "7",
        "GI upset: over the last half hour.",
        _options(
            (0, "No GI symptoms"),
            (1, "Stomach cramps"),
            (2, "Nausea or loose stool"),
            (3, "Vomiting or diarrhea"),
            (5, "Multiple episodes of diarrhea or vomiting"),
        ),
    ),
    Item(
        "8",
        "Tremor: observation of outstretched hands.",
        _options(
            (0, "No tremor"),
            (1, "Tremor can be felt, but not observed"),
            (2, "Slight tremor observable"),
            (4, "Gross tremor or muscle twitching"),
        ),
    ),
    Item(
        "9",
        "Yawning: observation during assessment.",
        _options(
            (0, "No yawning"),
            (1, "Yawning once or twice during assessment"),
            (2, "Yawning three or more times during assessment"),
            (4, "Yawning several times/minute"),
        ),
    ),
    Item(
        "10",
        "Anxiety or irritability.",
        _options(
            (0, "None"),
            (1, "Patient reports increasing irritability or anxiousness"),
            (2, "Patient obviously irritable or anxious"),
            (
                4,
                "Patient so irritable or anxious that participation in the assessment is difficult",
            ),
        ),
    ),
    Item(
        "11",
        "Gooseflesh skin.",
        _options(
            (0, "Skin is smooth"),
            (3, "Piloerection of skin can be felt or hairs standing up on arms"),
            (5, "Prominent piloerection"),
        ),
    ),
)

# Wesson and Ling's bands: 5–12 mild, 13–24 moderate, 25–36 moderately severe, more than 36
# severe; under 5 is no withdrawal to speak of.
BANDS = (
    Band("none", "No withdrawal", 0, 4),
    Band("mild", "Mild withdrawal", 5, 12),
    Band("moderate", "Moderate withdrawal", 13, 24),
    Band("moderately_severe", "Moderately severe withdrawal", 25, 36),
    Band("severe", "Severe withdrawal", 37, 48, severe=True),
)


def score_cows(answers: dict[str, int], sex: str) -> Score:
    """Total of the eleven items (0–48) in the published bands 5/13/25/37."""
    return banded(COWS, sum_of(answers, (item.key for item in ITEMS)))


COWS = Instrument(
    code="cows",
    name="Clinical Opiate Withdrawal Scale",
    short_name="COWS",
    administered_by="clinician",
    period="now",
    instructions=(
        "For each item, choose the value that best describes the patient's sign or symptom. "
        "Rate on just the apparent relationship to opiate withdrawal: if the heart rate is "
        "raised because the patient was jogging just before the assessment, the raised pulse "
        "does not add to the score."
    ),
    items=ITEMS,
    bands=BANDS,
    max_total=48,
    scorer=score_cows,
    source=(
        "Wesson DR, Ling W. The Clinical Opiate Withdrawal Scale (COWS). J Psychoactive Drugs "
        "2003;35(2):253-259 (items and bands). Distributed without licence or fee for "
        "clinical use; SAMHSA reproduces it in its Treatment Improvement Protocols (TIP 63, "
        "Medications for Opioid Use Disorder)."
    ),
)
