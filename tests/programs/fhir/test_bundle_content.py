"""The bundle of a disclosure of every category: valid R4(B), self-contained, labelled on every
resource, with the §2.32 notice and the consent's scope, and each status mapped."""

import html

import pytest

from programs.fhir import PART2_NOTICE, TPO_CLASS, disclosure_bundle
from tests.programs.fhir.helpers import (
    ALL_CATEGORIES,
    R4_STATUSES,
    disclosure,
    references,
    resources,
    validated,
)

pytestmark = pytest.mark.django_db

LABELS = {
    ("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R"),
    ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "ETH"),
    ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "42CFRPart2"),
    ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "NORDSCLCD"),
}


@pytest.fixture
def bundle(history):
    sent = disclosure(
        history["patient"],
        history["consent"],
        categories=ALL_CATEGORIES,
        disclosed_at=history["disclosed_at"],
        window=history["window"],
    )
    return validated(disclosure_bundle(sent))


def test_it_is_a_document_that_opens_with_its_composition(bundle):
    assert bundle["type"] == "document"
    # The document's identity is the disclosure's uuid (the stand-in's: UUID(int=41)).
    assert bundle["identifier"] == {
        "system": "urn:ietf:rfc:3986",
        "value": "urn:uuid:00000000-0000-0000-0000-000000000029",
    }
    assert bundle["timestamp"] == "2026-11-18T15:00:00Z"
    composition = bundle["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition"
    assert composition["confidentiality"] == "R"
    assert "Northside Outpatient Practice, 12 Elm Street" in composition["title"]


def test_every_reference_resolves_inside_the_bundle(bundle):
    full_urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(full_urls) == len(set(full_urls))
    assert all(url.startswith("urn:uuid:") for url in full_urls)
    assert all(entry["fullUrl"].endswith(entry["resource"]["id"]) for entry in bundle["entry"])
    refs = references(bundle)
    assert refs
    assert set(refs) <= set(full_urls)


def test_the_same_disclosure_yields_the_same_ids(history, bundle):
    again = disclosure(
        history["patient"],
        history["consent"],
        categories=ALL_CATEGORIES,
        disclosed_at=history["disclosed_at"],
        window=history["window"],
    )
    assert disclosure_bundle(again) == bundle


def test_every_resource_and_the_bundle_carry_the_part2_labels(bundle):
    for resource in [bundle, *resources(bundle)]:
        labels = {(label["system"], label["code"]) for label in resource["meta"]["security"]}
        assert labels == LABELS, resource["resourceType"]
    assert "NORDSLCD" not in str(bundle)


def test_the_notice_travels_verbatim_with_the_consents_scope(bundle):
    sections = bundle["entry"][0]["resource"]["section"]
    notice = sections[0]["text"]["div"]
    for line in PART2_NOTICE.split("\n"):
        assert f"<p>{html.escape(line)}</p>" in notice
    assert PART2_NOTICE.startswith(
        "This record which has been disclosed to you is protected by Federal confidentiality "
        "rules (42 CFR part 2)."
    )
    assert "42 CFR part 2 prohibits unauthorized use or disclosure" not in notice
    scope = sections[1]["text"]["div"]
    assert "Northside Outpatient Practice" in scope
    assert "In writing to the clinic&#x27;s privacy officer" in scope
    assert "end of treatment" in scope
    (consent,) = resources(bundle, "Consent")
    assert sections[1]["entry"] == [{"reference": f"urn:uuid:{consent['id']}"}]


def test_the_consent_says_what_permitted_the_disclosure(bundle):
    (consent,) = resources(bundle, "Consent")
    assert consent["status"] == "active"
    assert consent["scope"]["coding"][0]["code"] == "patient-privacy"
    assert consent["category"][0]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "59284-0",
        "display": "Consent Document",
    }
    assert consent["policyRule"]["coding"][0]["code"] == "42CFRPart2"
    provision = consent["provision"]
    assert provision["type"] == "permit"
    assert provision["period"] == {"start": "2026-11-02"}
    assert [p["code"] for p in provision["purpose"]] == ["TREAT"]
    assert [a["reference"]["display"] for a in provision["actor"]] == [
        "Northside Outpatient Practice"
    ]
    assert {c["code"] for c in provision["class"]} == {
        "Patient",
        "EpisodeOfCare",
        "Observation",
        "Appointment",
        "CarePlan",
        "Goal",
        "QuestionnaireResponse",
    }
    assert len(provision["class"]) == 7  # Observation once, for assessments and measures


def test_the_patient_carries_the_demographics(bundle):
    (patient,) = resources(bundle, "Patient")
    assert patient["name"] == [{"family": "Okafor", "given": ["Dana"]}]
    assert patient["telecom"] == [
        {"system": "phone", "value": "+12025550142"},
        {"system": "email", "value": "dana@example.org"},
    ]
    assert patient["identifier"][0]["value"]


def test_each_enrollment_is_an_episode_of_care_with_its_history(bundle, history):
    episodes = {e["type"][1]["text"]: e for e in resources(bundle, "EpisodeOfCare")}
    residential = episodes["Harbor House Residential"]
    assert residential["status"] == "finished"
    assert residential["period"] == {"start": "2026-11-02", "end": "2026-11-12"}
    assert residential["statusHistory"] == [
        {"status": "active", "period": {"start": "2026-11-02", "end": "2026-11-12"}},
        {"status": "finished", "period": {"start": "2026-11-12"}},
    ]
    assert residential["type"][0]["coding"][0]["code"] == "residential"
    php = episodes["Cedar Day PHP"]
    assert php["status"] == "cancelled"
    assert [h["status"] for h in php["statusHistory"]] == ["waitlist", "cancelled"]
    assert "period" not in php
    assert episodes["Lantern Evening IOP"]["status"] == "active"
    (organization,) = resources(bundle, "Organization")
    assert organization["name"] == "Harbor Recovery Center"
    assert residential["managingOrganization"]["reference"].endswith(organization["id"])


def test_sessions_in_the_window_are_appointments_with_attendance(bundle):
    statuses = {a["description"]: a["status"] for a in resources(bundle, "Appointment")}
    assert statuses == {
        "Lantern skills group present": "fulfilled",
        "Lantern skills group absent": "noshow",
        "Lantern skills group unrecorded": "booked",
        "Lantern skills group excused": "cancelled",
        "Lantern skills group cancelled": "cancelled",
    }


def test_the_aftercare_plan_is_a_care_plan_with_its_goals(bundle):
    (plan,) = resources(bundle, "CarePlan")
    (goal,) = resources(bundle, "Goal")
    assert plan["status"] == "draft"
    assert plan["goal"] == [{"reference": f"urn:uuid:{goal['id']}"}]
    assert goal["description"] == {"text": "Call my sponsor every Sunday"}
    assert goal["lifecycleStatus"] == "accepted"
    assert plan["note"] == [{"text": "Sober living: Maple Street sober house"}]
    assert plan["activity"][0]["detail"]["description"] == "Coping skill: Box breathing at cravings"


def test_an_assessment_is_an_observation_with_a_component_per_dimension(bundle):
    (observation,) = resources(bundle, "Observation")
    values = {
        c["code"]["text"]: c.get("valueInteger", c.get("valueString"))
        for c in observation["component"]
    }
    assert values["Dimension 5: relapse / continued use potential"] == 4
    assert values["DSM-5 substance use disorder severity"].startswith("Severe")


def test_every_status_is_a_code_of_its_r4_value_set(bundle):
    for resource in resources(bundle):
        if resource["resourceType"] in R4_STATUSES:
            assert resource["status"] in R4_STATUSES[resource["resourceType"]]
        for change in resource.get("statusHistory", []):
            assert change["status"] in R4_STATUSES["EpisodeOfCare"]


def test_a_revoked_consent_shows_inactive_from_the_day_it_was_revoked(history):
    consent = history["consent"]
    consent.revoked_on = history["disclosed_at"].date()
    sent = disclosure(
        history["patient"],
        consent,
        categories=["demographics"],
        disclosed_at=history["disclosed_at"],
    )
    (resource,) = resources(validated(disclosure_bundle(sent)), "Consent")
    assert resource["status"] == "inactive"


def test_a_representatives_signature_names_the_related_person(history):
    consent = history["consent"]
    consent.signer_relation = "guardian"
    consent.signer_name = "Ruth Okafor"
    sent = disclosure(
        history["patient"],
        consent,
        categories=["demographics"],
        disclosed_at=history["disclosed_at"],
    )
    bundle = validated(disclosure_bundle(sent))
    (person,) = resources(bundle, "RelatedPerson")
    (resource,) = resources(bundle, "Consent")
    assert person["relationship"] == [{"text": "guardian"}]
    assert resource["performer"] == [{"reference": f"urn:uuid:{person['id']}"}]
    assert set(references(bundle)) <= {entry["fullUrl"] for entry in bundle["entry"]}


def test_a_tpo_consent_names_the_class_and_its_purposes(history):
    consent = history["consent"]
    consent.recipients_tpo = True
    consent.recipient_names = []
    consent.purposes = ["treatment", "payment", "operations", "other"]
    consent.purpose_other = "Sober-living house placement"
    consent.expiry_event = ""
    consent.no_expiry = True
    sent = disclosure(
        history["patient"],
        consent,
        categories=["demographics"],
        disclosed_at=history["disclosed_at"],
    )
    bundle = validated(disclosure_bundle(sent))
    (resource,) = resources(bundle, "Consent")
    provision = resource["provision"]
    assert [a["reference"]["display"] for a in provision["actor"]] == [TPO_CLASS]
    assert [p.get("code", p["display"]) for p in provision["purpose"]] == [
        "TREAT",
        "HPAYMT",
        "HOPERAT",
        "Sober-living house placement",
    ]
    scope = bundle["entry"][0]["resource"]["section"][1]["text"]["div"]
    assert "Expires never" in scope
    assert "Sober-living house placement" in scope


def test_the_patients_answer_in_the_app_is_the_participants_status(bundle):
    answers = {
        a["description"]: a["participant"][0]["status"] for a in resources(bundle, "Appointment")
    }
    assert answers["Lantern skills group present"] == "accepted"
    assert answers["Lantern skills group excused"] == "declined"
    assert answers["Lantern skills group absent"] == "needs-action"
