"""The level-of-care recommendation rule (DOMAIN.md, "The recommendation rule this product uses")
and the DSM-5 severity mapping. Pure functions: no database."""

import pytest
from hypothesis import given, settings, strategies

from patients.models import CoOccurring, Level, Severity, Track
from patients.recommendation import (
    LEVEL_ORDER,
    AssessmentFacts,
    recommend,
    severity_from_criteria,
)

DIMENSIONS = ("d1", "d2", "d3", "d4", "d5", "d6")
SEVERITIES = [Severity.NONE, Severity.MILD, Severity.MODERATE, Severity.SEVERE]


def make_facts(
    severity=Severity.NONE,
    *,
    relapse=False,
    daytime=False,
    co_occurring=(),
    **ratings,
):
    """Facts with every dimension at 0 unless given (``d3=2``)."""
    unknown = set(ratings) - set(DIMENSIONS)
    assert not unknown, f"unknown dimensions {unknown}"
    dimensions = {name: ratings.get(name, 0) for name in DIMENSIONS}
    return AssessmentFacts(
        severity=severity,
        dimensions=dimensions,
        prior_outpatient_relapse=relapse,
        daytime_obligations=daytime,
        co_occurring=tuple(co_occurring),
    )


def sentences_with(rationale, *fragments):
    """The sentences of the rationale that contain every fragment (case-insensitive)."""
    wanted = [fragment.lower() for fragment in fragments]
    return [s for s in rationale if all(fragment in s.lower() for fragment in wanted)]


def intensity(level):
    """Higher is more intensive: outpatient 0 .. residential 3."""
    return len(LEVEL_ORDER) - 1 - LEVEL_ORDER.index(level)


def expected_level(facts):
    """DOMAIN.md's rule, written independently of the implementation."""
    d = facts.dimensions
    severe = facts.severity == Severity.SEVERE
    if (
        d["d1"] >= 3
        or 4 in d.values()
        or (severe and (facts.prior_outpatient_relapse or d["d6"] >= 3 or d["d3"] >= 3))
    ):
        return Level.RESIDENTIAL
    if severe or 3 in d.values():
        return Level.PHP
    if facts.severity == Severity.MODERATE or 2 in d.values():
        return Level.IOP
    return Level.OUTPATIENT


# --- severity_from_criteria (DSM-5) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "severity"),
    [
        (0, Severity.NONE),
        (1, Severity.NONE),
        (2, Severity.MILD),
        (3, Severity.MILD),
        (4, Severity.MODERATE),
        (5, Severity.MODERATE),
        (6, Severity.SEVERE),
        (7, Severity.SEVERE),
        (8, Severity.SEVERE),
        (9, Severity.SEVERE),
        (10, Severity.SEVERE),
        (11, Severity.SEVERE),
    ],
)
def test_severity_from_criteria_follows_dsm5_bands(count, severity):
    assert severity_from_criteria(count) == severity


def test_level_order_is_most_intensive_first():
    assert LEVEL_ORDER == [Level.RESIDENTIAL, Level.PHP, Level.IOP, Level.OUTPATIENT]


# --- 1. residential ------------------------------------------------------------------------------


def test_withdrawal_risk_3_recommends_residential():
    assert recommend(make_facts(d1=3)).level == Level.RESIDENTIAL


def test_withdrawal_risk_2_does_not_recommend_residential():
    # d1 = 2 is a dimension at 2: intensive outpatient, not residential.
    assert recommend(make_facts(d1=2)).level == Level.IOP


@pytest.mark.parametrize("severity", SEVERITIES)
def test_withdrawal_risk_3_recommends_residential_at_any_severity(severity):
    assert recommend(make_facts(severity, d1=3)).level == Level.RESIDENTIAL


@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_any_dimension_rated_4_recommends_residential(dimension):
    assert recommend(make_facts(**{dimension: 4})).level == Level.RESIDENTIAL


@pytest.mark.parametrize(
    "facts",
    [
        pytest.param(make_facts(Severity.SEVERE, relapse=True), id="severe+relapse"),
        pytest.param(make_facts(Severity.SEVERE, d6=3), id="severe+d6=3"),
        pytest.param(make_facts(Severity.SEVERE, d3=3), id="severe+d3=3"),
    ],
)
def test_severe_with_relapse_or_high_risk_environment_or_emotional_needs_recommends_residential(
    facts,
):
    assert recommend(facts).level == Level.RESIDENTIAL


@pytest.mark.parametrize(
    ("facts", "level"),
    [
        # Relapse alone raises nothing; moderate severity gives intensive outpatient.
        pytest.param(make_facts(Severity.MODERATE, relapse=True), Level.IOP, id="moderate+relapse"),
        # d6 = 3 / d3 = 3 without severe are just "a dimension at 3": partial hospitalization.
        pytest.param(make_facts(Severity.MODERATE, d6=3), Level.PHP, id="moderate+d6=3"),
        pytest.param(make_facts(Severity.MODERATE, d3=3), Level.PHP, id="moderate+d3=3"),
    ],
)
def test_relapse_or_d6_3_or_d3_3_without_severe_does_not_recommend_residential(facts, level):
    assert recommend(facts).level == level


@pytest.mark.parametrize("dimension", ["d2", "d4", "d5"])
def test_severe_with_other_dimension_at_3_recommends_php_not_residential(dimension):
    # Only d6 and d3 (and d1 on its own) combine with severe into residential.
    assert recommend(make_facts(Severity.SEVERE, **{dimension: 3})).level == Level.PHP


@pytest.mark.parametrize("dimension", ["d3", "d6"])
def test_severe_with_d3_or_d6_at_2_recommends_php_not_residential(dimension):
    assert recommend(make_facts(Severity.SEVERE, **{dimension: 2})).level == Level.PHP


# --- 2. partial hospitalization ------------------------------------------------------------------


def test_severe_alone_recommends_php():
    assert recommend(make_facts(Severity.SEVERE)).level == Level.PHP


@pytest.mark.parametrize("dimension", ["d2", "d3", "d4", "d5", "d6"])
def test_dimension_rated_3_recommends_php(dimension):
    assert recommend(make_facts(Severity.NONE, **{dimension: 3})).level == Level.PHP


@pytest.mark.parametrize("dimension", ["d2", "d3", "d4", "d5", "d6"])
def test_dimension_rated_3_with_moderate_severity_still_recommends_php(dimension):
    assert recommend(make_facts(Severity.MODERATE, **{dimension: 3})).level == Level.PHP


def test_d1_rated_3_recommends_residential_not_php():
    assert recommend(make_facts(Severity.NONE, d1=3)).level == Level.RESIDENTIAL


# --- 3. intensive outpatient ---------------------------------------------------------------------


def test_moderate_alone_recommends_iop():
    assert recommend(make_facts(Severity.MODERATE)).level == Level.IOP


@pytest.mark.parametrize("dimension", DIMENSIONS)
@pytest.mark.parametrize("severity", [Severity.NONE, Severity.MILD])
def test_dimension_rated_2_recommends_iop(severity, dimension):
    assert recommend(make_facts(severity, **{dimension: 2})).level == Level.IOP


def test_all_dimensions_at_2_with_moderate_recommends_iop():
    facts = make_facts(Severity.MODERATE, **dict.fromkeys(DIMENSIONS, 2))
    assert recommend(facts).level == Level.IOP


# --- 4. outpatient -------------------------------------------------------------------------------


@pytest.mark.parametrize("severity", [Severity.NONE, Severity.MILD])
@pytest.mark.parametrize("rating", [0, 1])
def test_mild_or_no_disorder_with_all_dimensions_at_most_1_recommends_outpatient(severity, rating):
    facts = make_facts(severity, **dict.fromkeys(DIMENSIONS, rating))
    assert recommend(facts).level == Level.OUTPATIENT


@pytest.mark.parametrize("severity", [Severity.NONE, Severity.MILD])
def test_prior_outpatient_relapse_without_severe_has_no_effect(severity):
    without = recommend(make_facts(severity, d5=1))
    with_relapse = recommend(make_facts(severity, relapse=True, d5=1))
    assert without.level == with_relapse.level == Level.OUTPATIENT
    assert with_relapse.rationale == without.rationale


def test_prior_outpatient_relapse_with_moderate_keeps_iop():
    facts = make_facts(Severity.MODERATE, relapse=True)
    assert recommend(facts).level == Level.IOP
    assert sentences_with(recommend(facts).rationale, "relapse after") == []


# --- track ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "facts",
    [
        pytest.param(make_facts(Severity.MODERATE), id="moderate"),
        pytest.param(make_facts(Severity.NONE, d4=2), id="d4=2"),
    ],
)
def test_iop_with_daytime_obligations_suggests_evening_track(facts):
    facts = AssessmentFacts(
        severity=facts.severity, dimensions=facts.dimensions, daytime_obligations=True
    )
    result = recommend(facts)
    assert result.level == Level.IOP
    assert result.track == Track.EVENING
    assert len(sentences_with(result.rationale, "evening track")) == 1
    assert sentences_with(result.rationale, "day track") == []


@pytest.mark.parametrize(
    "facts",
    [
        pytest.param(make_facts(Severity.MODERATE), id="moderate"),
        pytest.param(make_facts(Severity.NONE, d4=2), id="d4=2"),
    ],
)
def test_iop_without_daytime_obligations_suggests_day_track(facts):
    result = recommend(facts)
    assert result.level == Level.IOP
    assert result.track == Track.DAY
    assert len(sentences_with(result.rationale, "day track")) == 1
    assert sentences_with(result.rationale, "evening track") == []


@pytest.mark.parametrize("daytime", [False, True])
@pytest.mark.parametrize(
    ("facts_kwargs", "level"),
    [
        pytest.param({"d1": 3}, Level.RESIDENTIAL, id="residential"),
        pytest.param({"severity": Severity.SEVERE}, Level.PHP, id="php"),
        pytest.param({"severity": Severity.MILD}, Level.OUTPATIENT, id="outpatient"),
    ],
)
def test_levels_other_than_iop_have_no_track(facts_kwargs, level, daytime):
    result = recommend(make_facts(daytime=daytime, **facts_kwargs))
    assert result.level == level
    assert result.track is None
    assert sentences_with(result.rationale, "track") == []


# --- rationale -----------------------------------------------------------------------------------


def test_rationale_has_a_sentence_for_every_matched_condition_of_every_level():
    result = recommend(make_facts(Severity.SEVERE, relapse=True, d1=4))
    rationale = result.rationale

    assert result.level == Level.RESIDENTIAL
    # withdrawal (d1 >= 3), dimension at 4, severe + relapse, and php's "severe"; nothing else.
    assert len(rationale) == 4
    assert len(sentences_with(rationale, "withdrawal", "dimension 1", "rated 4")) >= 1
    assert len(sentences_with(rationale, "any dimension at 4", "dimension 1")) == 1
    assert len(sentences_with(rationale, "severe", "relapse after earlier outpatient")) == 1
    assert len(sentences_with(rationale, "severe", "partial hospitalization")) == 1
    # Most intensive first: php's sentence comes last.
    assert "partial hospitalization" in rationale[-1]


def test_rationale_names_each_dimension_rated_4():
    result = recommend(make_facts(d2=4, d5=4))
    at_4 = sentences_with(result.rationale, "rated 4", "any dimension at 4")
    assert len(at_4) == 2
    assert len(sentences_with(at_4, "dimension 2", "biomedical")) == 1
    assert len(sentences_with(at_4, "dimension 5", "relapse/continued use")) == 1


def test_rationale_for_severe_with_all_three_residential_combinations():
    result = recommend(make_facts(Severity.SEVERE, relapse=True, d3=3, d6=3))
    rationale = result.rationale

    assert result.level == Level.RESIDENTIAL
    assert len(sentences_with(rationale, "relapse after earlier outpatient")) == 1
    assert len(sentences_with(rationale, "recovery environment", "dimension 6", "rated 3")) == 2
    assert len(sentences_with(rationale, "severe use disorder", "dimension 6")) == 1
    assert len(sentences_with(rationale, "severe use disorder", "dimension 3")) == 1
    # php: severe, and d3 and d6 each rated 3.
    assert len(sentences_with(rationale, "partial hospitalization")) == 3
    # 3 residential + 3 php.
    assert len(rationale) == 6


def test_rationale_for_d1_at_3_mentions_withdrawal_and_the_php_dimension_condition():
    result = recommend(make_facts(d1=3))
    assert result.level == Level.RESIDENTIAL
    assert len(result.rationale) == 2
    assert "withdrawal" in result.rationale[0].lower()
    assert "rated 3" in result.rationale[0]
    assert sentences_with(result.rationale[1:], "dimension 1", "rated 3", "partial hospitalization")


def test_rationale_for_php_lists_php_and_iop_conditions_most_intensive_first():
    result = recommend(make_facts(Severity.MODERATE, d2=3, d4=2))
    rationale = result.rationale

    assert result.level == Level.PHP
    assert result.track is None
    assert len(rationale) == 3
    assert sentences_with(rationale[:1], "dimension 2", "rated 3", "partial hospitalization")
    assert sentences_with(rationale[1:], "moderate", "intensive outpatient")
    assert sentences_with(rationale[1:], "dimension 4", "rated 2", "intensive outpatient")
    # No track is suggested when iop conditions match but iop is not the level.
    assert sentences_with(rationale, "track") == []


def test_rationale_for_iop_lists_conditions_then_the_track():
    result = recommend(make_facts(Severity.MODERATE, daytime=True, d3=2))
    rationale = result.rationale

    assert result.level == Level.IOP
    assert len(rationale) == 3
    assert sentences_with(rationale, "moderate", "intensive outpatient")
    assert sentences_with(rationale, "dimension 3", "rated 2")
    assert "evening track" in rationale[-1].lower()


def test_rationale_for_outpatient_explains_why():
    result = recommend(make_facts(Severity.MILD, d1=1, d6=1))
    assert result.level == Level.OUTPATIENT
    assert len(result.rationale) == 1
    assert sentences_with(result.rationale, "outpatient", "mild")


@pytest.mark.parametrize(
    "facts_kwargs",
    [
        pytest.param({"d1": 3}, id="residential"),
        pytest.param({"severity": Severity.SEVERE}, id="php"),
        pytest.param({"severity": Severity.MODERATE}, id="iop"),
    ],
)
def test_rationale_explains_outpatient_only_when_outpatient(facts_kwargs):
    assert sentences_with(recommend(make_facts(**facts_kwargs)).rationale, "no condition") == []


@pytest.mark.parametrize(
    "facts_kwargs",
    [
        pytest.param({"d1": 4}, id="residential"),
        pytest.param({"severity": Severity.SEVERE}, id="php"),
        pytest.param({"severity": Severity.MODERATE, "daytime": True}, id="iop"),
        pytest.param({"severity": Severity.NONE}, id="outpatient"),
    ],
)
def test_co_occurring_conditions_are_mentioned_but_do_not_change_the_level(facts_kwargs):
    without = recommend(make_facts(**facts_kwargs))
    with_conditions = recommend(make_facts(co_occurring=("ptsd", "depression"), **facts_kwargs))

    assert with_conditions.level == without.level
    assert with_conditions.track == without.track
    mentions = sentences_with(with_conditions.rationale, "co-occurring", "PTSD", "depression")
    assert len(mentions) == 1
    assert sentences_with(without.rationale, "co-occurring") == []
    # Apart from that mention, the rationale is unchanged.
    assert [s for s in with_conditions.rationale if s not in mentions] == without.rationale


def test_every_co_occurring_condition_is_named_by_its_label():
    result = recommend(make_facts(co_occurring=CoOccurring.values))
    mention = sentences_with(result.rationale, "co-occurring")
    assert len(mention) == 1
    for label in CoOccurring.labels:
        assert label in mention[0]
    assert result.level == Level.OUTPATIENT


# --- properties ----------------------------------------------------------------------------------

facts_strategy = strategies.builds(
    AssessmentFacts,
    severity=strategies.sampled_from(SEVERITIES),
    dimensions=strategies.fixed_dictionaries(
        {name: strategies.integers(min_value=0, max_value=4) for name in DIMENSIONS}
    ),
    prior_outpatient_relapse=strategies.booleans(),
    daytime_obligations=strategies.booleans(),
    co_occurring=strategies.lists(strategies.sampled_from(CoOccurring.values), unique=True).map(
        tuple
    ),
)


def _with(facts, **changes):
    values = {
        "severity": facts.severity,
        "dimensions": dict(facts.dimensions),
        "prior_outpatient_relapse": facts.prior_outpatient_relapse,
        "daytime_obligations": facts.daytime_obligations,
        "co_occurring": facts.co_occurring,
    }
    values.update(changes)
    return AssessmentFacts(**values)


@settings(max_examples=300, deadline=None)
@given(facts_strategy)
def test_level_matches_the_documented_rule(facts):
    assert recommend(facts).level == expected_level(facts)


@settings(max_examples=300, deadline=None)
@given(facts_strategy)
def test_raising_any_input_never_lowers_the_intensity(facts):
    base = intensity(recommend(facts).level)

    for name in DIMENSIONS:
        if facts.dimensions[name] < 4:
            raised = _with(facts, dimensions={**facts.dimensions, name: facts.dimensions[name] + 1})
            assert intensity(recommend(raised).level) >= base, f"raising {name}"

    step = SEVERITIES.index(facts.severity)
    if step < len(SEVERITIES) - 1:
        raised = _with(facts, severity=SEVERITIES[step + 1])
        assert intensity(recommend(raised).level) >= base, "raising severity"

    if not facts.prior_outpatient_relapse:
        raised = _with(facts, prior_outpatient_relapse=True)
        assert intensity(recommend(raised).level) >= base, "adding a relapse"


@settings(max_examples=300, deadline=None)
@given(facts_strategy)
def test_recommendation_is_deterministic_explained_and_tracked_only_for_iop(facts):
    first = recommend(facts)
    second = recommend(_with(facts))

    assert first == second
    assert first.rationale
    assert all(isinstance(s, str) and s.strip() for s in first.rationale)
    assert (first.track is not None) == (first.level == Level.IOP)
    if first.level == Level.IOP:
        assert first.track == (Track.EVENING if facts.daytime_obligations else Track.DAY)


@settings(max_examples=300, deadline=None)
@given(facts_strategy)
def test_co_occurring_conditions_never_change_level_or_track(facts):
    without = recommend(_with(facts, co_occurring=()))
    result = recommend(facts)

    assert (result.level, result.track) == (without.level, without.track)
    assert bool(sentences_with(result.rationale, "co-occurring")) == bool(facts.co_occurring)
