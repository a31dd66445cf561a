"""Only the consented categories travel: an export with each category withheld carries none of
its data anywhere in the serialized bundle, and the Consent always travels."""

import json

import pytest

from programs.fhir import disclosure_bundle
from tests.programs.fhir.helpers import ALL_CATEGORIES, disclosure, resources, validated

pytestmark = pytest.mark.django_db

# What each category's data looks like in the history fixture: none may appear without it.
TRACES = {
    "demographics": ["Okafor", "Dana", "dana@example.org", "+12025550142", "birthDate"],
    "enrollments": [
        "Harbor House Residential",
        "Cedar Day PHP",
        "Lantern Evening IOP",
        "level-of-care",
        "statusHistory",
    ],
    "assessments": ["ASAM Criteria", "Dimension 5", "DSM-5"],
    "attendance": ["Lantern skills group", "noshow", "fulfilled"],
    "aftercare": [
        "Call my sponsor every Sunday",
        "Maple Street sober house",
        "Box breathing",
    ],
}
# The resources that carry each category (the Consent's provision names the types it covers,
# so the names alone are no trace).
RESOURCE_TYPES = {
    "demographics": set(),
    "enrollments": {"EpisodeOfCare"},
    "assessments": {"Observation"},
    "attendance": {"Appointment"},
    "aftercare": {"CarePlan", "Goal"},
}


def bundle_of(history, categories, consented=ALL_CATEGORIES):
    history["consent"].categories = list(consented)
    sent = disclosure(
        history["patient"],
        history["consent"],
        categories=categories,
        disclosed_at=history["disclosed_at"],
        window=history["window"],
    )
    return validated(disclosure_bundle(sent))


@pytest.mark.parametrize("withheld", sorted(TRACES))
def test_a_withheld_category_leaves_no_trace(history, withheld):
    bundle = bundle_of(history, [c for c in ALL_CATEGORIES if c != withheld])
    text = json.dumps(bundle, ensure_ascii=False)
    assert [trace for trace in TRACES[withheld] if trace in text] == []
    for kept in set(TRACES) - {withheld}:
        # The first trace of every other category is there: the export is not merely empty.
        assert TRACES[kept][0] in text, kept
    assert not RESOURCE_TYPES[withheld] & {r["resourceType"] for r in resources(bundle)}
    assert len(resources(bundle, "Consent")) == 1


def test_without_demographics_the_patient_is_an_id_and_nothing_more(history):
    bundle = bundle_of(history, ["attendance"])
    (patient,) = resources(bundle, "Patient")
    assert set(patient) == {"resourceType", "id", "meta"}


def test_a_category_the_consent_does_not_cover_is_left_out_whatever_the_disclosure_says(history):
    bundle = bundle_of(history, ALL_CATEGORIES, consented=["demographics", "attendance"])
    text = json.dumps(bundle, ensure_ascii=False)
    for category in ("enrollments", "assessments", "aftercare"):
        assert [trace for trace in TRACES[category] if trace in text] == [], category
    assert "Lantern skills group present" in text


def test_measures_without_responses_export_no_resource(history):
    bundle = bundle_of(history, ["measures"])
    assert {r["resourceType"] for r in resources(bundle)} == {
        "Composition",
        "Organization",
        "Patient",
        "Consent",
    }


def test_a_consent_without_its_elements_sends_no_records(history):
    """An old consent migrated without its §2.31 elements permits nothing: were it ever handed
    to the builder, the bundle holds the notice, the clinic, the bare patient and the consent."""
    consent = history["consent"]
    for name in ("recipient_names", "purposes", "categories"):
        setattr(consent, name, [])
    consent.revocation_how = ""
    bundle = bundle_of(history, ALL_CATEGORIES, consented=[])
    assert {r["resourceType"] for r in resources(bundle)} == {
        "Composition",
        "Organization",
        "Patient",
        "Consent",
    }
    (resource,) = resources(bundle, "Consent")
    assert set(resource["provision"]) == {"type", "period"}
