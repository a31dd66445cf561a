"""What the FHIR tests share: the disclosure stand-in, validation and the bundle's walks."""

import datetime
import json
import types
import uuid

from fhir.resources.R4B.bundle import Bundle

# patients.models.DisclosureCategory / DisclosurePurpose values (the shared contract).
ALL_CATEGORIES = [
    "demographics",
    "enrollments",
    "assessments",
    "attendance",
    "aftercare",
    "measures",
]

# R4 value sets (hl7.org/fhir/R4): fhir.resources checks types and cardinality, not codes.
R4_STATUSES = {
    "EpisodeOfCare": {
        "planned", "waitlist", "active", "onhold", "finished", "cancelled", "entered-in-error"
    },
    "CarePlan": {
        "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"
    },
    "Appointment": {
        "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
        "entered-in-error", "checked-in", "waitlist",
    },
    "Consent": {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"},
    "Observation": {
        "registered", "preliminary", "final", "amended", "corrected", "cancelled",
        "entered-in-error", "unknown",
    },
    "Composition": {"preliminary", "final", "amended", "entered-in-error"},
}  # fmt: skip


def disclosure(patient, consent, *, categories, disclosed_at, window=(None, None), pk=41):
    """A stand-in for programs.models.Disclosure with the contract's fields."""
    return types.SimpleNamespace(
        id=pk,
        uuid=uuid.UUID(int=pk),
        patient=patient,
        consent=consent,
        categories=list(categories),
        purpose="treatment",
        purpose_other="",
        recipient_name="Northside Outpatient Practice",
        recipient_address="12 Elm Street, Springfield",
        disclosed_at=disclosed_at,
        window_start=window[0],
        window_end=window[1],
    )


def complete(consent, **elements):
    """``consent`` (a patients.Consent row) with the §2.31 elements the contract adds."""
    values = {
        "recipients_tpo": False,
        "recipient_names": ["Northside Outpatient Practice"],
        "purposes": ["treatment"],
        "purpose_other": "",
        "categories": list(ALL_CATEGORIES),
        "revocation_how": "In writing to the clinic's privacy officer, at any time.",
        "no_expiry": False,
        "signer_relation": "",
        "signer_name": "",
        "treatment_conditioned": False,
        **elements,
    }
    for name, value in values.items():
        setattr(consent, name, value)
    return consent


def validated(bundle: dict) -> dict:
    """``bundle`` after the R4B models accepted it (a round trip through JSON, as it is sent),
    and with no empty element (FHIR JSON leaves out what has no value; the models accept it)."""
    Bundle.model_validate(json.loads(json.dumps(bundle)))
    assert empty_elements(bundle) == []
    return bundle


def empty_elements(node, path="Bundle") -> list[str]:
    if node in ([], {}, "", None):
        return [path]
    if isinstance(node, dict):
        return [e for key, value in node.items() for e in empty_elements(value, f"{path}.{key}")]
    if isinstance(node, list):
        return [e for n, value in enumerate(node) for e in empty_elements(value, f"{path}[{n}]")]
    return []


def resources(bundle: dict, resource_type: str | None = None) -> list[dict]:
    found = [entry["resource"] for entry in bundle["entry"]]
    return [r for r in found if resource_type is None or r["resourceType"] == resource_type]


def references(node) -> list[str]:
    """Every ``reference`` string anywhere in ``node``."""
    if isinstance(node, dict):
        own = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return own + [ref for value in node.values() for ref in references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in references(value)]
    return []


def at(day: datetime.date, hour: int, zone) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=zone)
