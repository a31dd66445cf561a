"""Measures in the FHIR export (issue 24, "done means"): with a consent covering ``measures``, each
response travels as a QuestionnaireResponse (its items and answers) and an Observation (its score,
LOINC-coded where LOINC has a code), with the Part 2 labels; without the category, none."""

import json

import pytest

from programs.fhir import SECURITY_LABELS, disclosure_bundle
from tests.factories import MeasureResponseFactory
from tests.programs.fhir import conftest as fhir_fixtures
from tests.programs.fhir.helpers import (
    ALL_CATEGORIES,
    at,
    disclosure,
    references,
    resources,
    validated,
)

day = fhir_fixtures.day
history = fhir_fixtures.history  # Dana's history, the FHIR tests' fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def measured(history, clinic):
    """Dana's IOP stay with a PHQ-9 (item 9 answered 1), a BAM and a COWS on file."""
    stay = history["patient"].enrollments.get(program=history["programs"][2])
    zone = clinic.zone
    phq = MeasureResponseFactory(
        enrollment=stay,
        instrument="phq9",
        answers={"1": 2, "2": 2, "3": 1, "4": 1, "5": 0, "6": 1, "7": 0, "8": 0, "9": 1},
        completed_at=at(day(12), 10, zone),
    )
    bam = MeasureResponseFactory(
        enrollment=stay, instrument="bam", total=10, completed_at=at(day(13), 10, zone)
    )
    cows = MeasureResponseFactory(
        enrollment=stay, instrument="cows", total=9, completed_at=at(day(14), 10, zone)
    )
    return {**history, "phq": phq, "bam": bam, "cows": cows}


def bundle_of(record, categories, consented=ALL_CATEGORIES):
    record["consent"].categories = list(consented)
    sent = disclosure(
        record["patient"],
        record["consent"],
        categories=categories,
        disclosed_at=record["disclosed_at"],
        window=record["window"],
    )
    return validated(disclosure_bundle(sent))


def measure_observations(bundle):
    return [r for r in resources(bundle, "Observation") if "derivedFrom" in r]


def test_each_response_travels_as_its_answers_and_its_score(measured):
    bundle = bundle_of(measured, ["measures"])

    answers = resources(bundle, "QuestionnaireResponse")
    scores = measure_observations(bundle)
    assert len(answers) == len(scores) == 3
    phq_answers, bam_answers, cows_answers = answers
    assert phq_answers["status"] == "completed"
    assert phq_answers["authored"] == "2026-11-14T15:00:00Z"
    items = {item["linkId"]: item for item in phq_answers["item"]}
    assert len(items) == 9
    assert items["9"]["text"].startswith("Thoughts that you would be better off dead")
    assert items["9"]["answer"] == [{"valueCoding": {"code": "1", "display": "Several days"}}]
    phq_score, bam_score, cows_score = scores
    assert phq_score["code"]["coding"] == [{"system": "http://loinc.org", "code": "44261-6"}]
    assert phq_score["valueInteger"] == measured["phq"].total == 8
    assert phq_score["interpretation"] == [{"text": "Mild depression"}]
    assert phq_score["category"][0]["coding"][0]["code"] == "survey"
    # each score points at its answers, inside the bundle
    urls = {entry["fullUrl"] for entry in bundle["entry"]}
    assert phq_score["derivedFrom"] == [{"reference": f"urn:uuid:{phq_answers['id']}"}]
    assert set(references(bundle)) <= urls
    # the BAM has no total: its three subscales; the COWS has no LOINC code here: text only
    assert "valueInteger" not in bam_score
    assert {c["code"]["text"] for c in bam_score["component"]} == {
        "BAM use",
        "BAM risk",
        "BAM protective",
    }
    assert "coding" not in cows_score["code"]
    assert "COWS" in cows_score["code"]["text"]
    assert len(bam_answers["item"]) == len(measured["bam"].answers)
    assert cows_answers["item"]
    # the Part 2 labels, as on every other resource
    for resource in [*answers, *scores]:
        assert resource["meta"]["security"] == [dict(label) for label in SECURITY_LABELS]
    (section,) = [
        s for s in resources(bundle, "Composition")[0]["section"] if s["title"] == "Measures"
    ]
    assert len(section["entry"]) == 6


def test_without_the_category_no_measure_travels(measured):
    for consented, disclosed in (
        ([c for c in ALL_CATEGORIES if c != "measures"], ALL_CATEGORIES),  # consent withholds
        (ALL_CATEGORIES, [c for c in ALL_CATEGORIES if c != "measures"]),  # not disclosed
    ):
        bundle = bundle_of(measured, disclosed, consented=consented)

        assert resources(bundle, "QuestionnaireResponse") == []
        assert measure_observations(bundle) == []
        text = json.dumps(bundle, ensure_ascii=False)
        assert "44261-6" not in text
        assert "better off dead" not in text
        # the assessments' Observation still goes
        assert resources(bundle, "Observation")


def test_the_consent_names_the_measures_resource_types(measured):
    bundle = bundle_of(measured, ["measures"], consented=["measures"])

    (consent,) = resources(bundle, "Consent")
    assert [c["code"] for c in consent["provision"]["class"]] == [
        "QuestionnaireResponse",
        "Observation",
    ]
