"""The level-of-care recommendation: a pure function of an assessment (DOMAIN.md, "The
recommendation rule this product uses").

Decision support only; the clinician decides. Evaluated in order, the first level whose rule
matches is recommended, and the rationale has one sentence for every condition that matched, of
every level, most intensive first, so the clinician sees all that the assessment points to.
Co-occurring conditions act through dimensions 3 and 6; they are mentioned, never counted.
"""

from dataclasses import dataclass, field

from patients.models import CoOccurring, Level, Severity, Track

SEVERITY_ORDER = [Severity.NONE, Severity.MILD, Severity.MODERATE, Severity.SEVERE]
# Most intensive first (the order the rule is evaluated in).
LEVEL_ORDER = [Level.RESIDENTIAL, Level.PHP, Level.IOP, Level.OUTPATIENT]

DIMENSION_NAMES = {
    "d1": "intoxication/withdrawal",
    "d2": "biomedical",
    "d3": "emotional/behavioral/cognitive",
    "d4": "readiness to change",
    "d5": "relapse/continued use potential",
    "d6": "recovery environment",
}


def severity_from_criteria(count: int) -> Severity:
    """DSM-5: 2–3 criteria mild, 4–5 moderate, 6 or more severe (fewer than 2: no disorder)."""
    if count >= 6:
        return Severity.SEVERE
    if count >= 4:
        return Severity.MODERATE
    if count >= 2:
        return Severity.MILD
    return Severity.NONE


@dataclass(frozen=True)
class AssessmentFacts:
    severity: Severity
    dimensions: dict[str, int]
    prior_outpatient_relapse: bool = False
    daytime_obligations: bool = False
    co_occurring: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recommendation:
    level: Level
    track: Track | None
    rationale: list[str] = field(default_factory=list)


def _dimension(name: str, rating: int) -> str:
    return f"dimension {name[1]} ({DIMENSION_NAMES[name]}) is rated {rating}"


def _matched_conditions(facts: AssessmentFacts) -> dict[Level, list[str]]:
    d = facts.dimensions
    severe = facts.severity == Severity.SEVERE
    matched: dict[Level, list[str]] = {level: [] for level in LEVEL_ORDER}

    # 1. Residential.
    if d["d1"] >= 3:
        matched[Level.RESIDENTIAL].append(
            f"Withdrawal risk is high: {_dimension('d1', d['d1'])} (3 or more points to "
            "residential care)."
        )
    for name, rating in d.items():
        if rating == 4:
            matched[Level.RESIDENTIAL].append(
                f"Severe risk: {_dimension(name, rating)} (any dimension at 4 points to "
                "residential care)."
            )
    if severe:
        if facts.prior_outpatient_relapse:
            matched[Level.RESIDENTIAL].append(
                "Severe use disorder with a relapse after earlier outpatient treatment points "
                "to residential care."
            )
        if d["d6"] >= 3:
            matched[Level.RESIDENTIAL].append(
                f"Severe use disorder with a high-risk recovery environment: "
                f"{_dimension('d6', d['d6'])}, which points to residential care."
            )
        if d["d3"] >= 3:
            matched[Level.RESIDENTIAL].append(
                f"Severe use disorder with significant emotional or behavioral needs: "
                f"{_dimension('d3', d['d3'])}, which points to residential care."
            )

    # 2. Partial hospitalization.
    if severe:
        matched[Level.PHP].append(
            "The use disorder is severe, which points to at least partial hospitalization."
        )
    for name, rating in d.items():
        if rating == 3:
            matched[Level.PHP].append(
                f"{_dimension(name, rating).capitalize()}, which points to at least partial "
                "hospitalization."
            )

    # 3. Intensive outpatient.
    if facts.severity == Severity.MODERATE:
        matched[Level.IOP].append(
            "The use disorder is moderate, which points to at least intensive outpatient care."
        )
    for name, rating in d.items():
        if rating == 2:
            matched[Level.IOP].append(
                f"{_dimension(name, rating).capitalize()}, which points to at least intensive "
                "outpatient care."
            )
    return matched


def recommend(facts: AssessmentFacts) -> Recommendation:
    matched = _matched_conditions(facts)
    level = next((lvl for lvl in LEVEL_ORDER[:-1] if matched[lvl]), Level.OUTPATIENT)
    rationale = [sentence for lvl in LEVEL_ORDER for sentence in matched[lvl]]
    if level == Level.OUTPATIENT:
        rationale.append(
            "No condition for a more intensive level matched: severity is "
            f"{facts.severity.label.lower()} and no dimension is rated 2 or more, so standard "
            "outpatient care is recommended."
        )

    track = None
    if level == Level.IOP:
        if facts.daytime_obligations:
            track = Track.EVENING
            rationale.append(
                "Evening track: the patient has work, school or family obligations during the day."
            )
        else:
            track = Track.DAY
            rationale.append("Day track: the patient has no daytime obligations.")

    if facts.co_occurring:
        labels = ", ".join(CoOccurring(value).label for value in facts.co_occurring)
        rationale.append(
            f"Co-occurring conditions noted ({labels}); they weigh in through dimensions 3 "
            "and 6, not on their own."
        )
    return Recommendation(level=level, track=track, rationale=rationale)
