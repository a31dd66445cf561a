"""Notes leave the clinic only in a disclosure whose consent names them: signed, finished
progress notes under ``progress_notes``, psychotherapy notes only under their own consent
(42 CFR 2.31(b)); never drafts, notes awaiting co-signature or other patients' notes."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from clinic.errors import Conflict
from patients.models import Consent
from programs.fhir import SECURITY_LABELS, disclosure_bundle
from programs.services.disclosures import disclosure_create, disclosure_description
from tests.factories import ConsentFactory
from tests.programs.fhir.helpers import disclosure, validated
from tests.programs.notes_privacy.conftest import MARKERS
from tests.programs.notes_privacy.helpers import document_text, documents, everything_in

pytestmark = pytest.mark.django_db

OTHER_CATEGORIES = [
    "demographics",
    "enrollments",
    "assessments",
    "attendance",
    "aftercare",
    "measures",
]
DISCLOSED_AT = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)


def bundle_of(world, categories, consented=None):
    consent = world["consent"]
    consent.categories = list(consented if consented is not None else categories)
    sent = disclosure(world["avery"], consent, categories=categories, disclosed_at=DISCLOSED_AT)
    return validated(disclosure_bundle(sent))


def test_progress_notes_carry_the_signed_finished_notes_of_the_patient(notes_world):
    bundle = bundle_of(notes_world, ["progress_notes"])

    docs = documents(bundle)
    texts = [document_text(doc) for doc in docs]
    assert len(docs) == 2  # the group note and the DAP note
    assert any(MARKERS["signed"] in t and MARKERS["group"] in t for t in texts)
    assert any(MARKERS["addendum"] in t for t in texts)
    assert any(MARKERS["dap"] in t for t in texts)
    everything = everything_in(bundle)
    for absent in ("draft", "awaiting", "psychotherapy", "b", "c"):
        assert MARKERS[absent] not in everything, absent
    for doc in docs:
        assert doc["meta"]["security"] == [dict(label) for label in SECURITY_LABELS]
        assert doc["status"] == "current"
        assert doc["subject"]["reference"].startswith("urn:uuid:")
    amended = next(d for d in docs if MARKERS["addendum"] in document_text(d))
    assert amended["docStatus"] == "amended"
    composition = bundle["entry"][0]["resource"]
    section = next(s for s in composition["section"] if s["title"] == "Progress notes")
    assert len(section["entry"]) == 2


def test_psychotherapy_notes_go_only_under_their_own_category(notes_world):
    bundle = bundle_of(notes_world, ["psychotherapy_notes"])

    texts = [document_text(doc) for doc in documents(bundle)]
    assert len(texts) == 1
    assert MARKERS["psychotherapy"] in texts[0]
    everything = everything_in(bundle)
    for absent in ("signed", "dap", "draft", "awaiting", "group"):
        assert MARKERS[absent] not in everything, absent


def test_a_note_awaiting_its_cosignature_goes_once_cosigned(notes_world):
    awaiting = notes_world["notes"]["awaiting"]
    awaiting.cosigned_by, awaiting.cosigned_at = notes_world["supervisor"], DISCLOSED_AT
    awaiting.save(update_fields=["cosigned_by", "cosigned_at", "updated_at"])

    everything = everything_in(bundle_of(notes_world, ["progress_notes"]))

    assert MARKERS["awaiting"] in everything


@pytest.mark.parametrize(
    "categories",
    [OTHER_CATEGORIES, ["attendance"], ["demographics", "measures"]],
    ids=["all-other", "attendance", "demographics-measures"],
)
def test_a_bundle_without_the_note_categories_has_no_note_text(notes_world, categories):
    # Even with the consent naming progress notes: only what the disclosure asks for goes.
    bundle = bundle_of(notes_world, categories, consented=[*categories, "progress_notes"])

    assert documents(bundle) == []
    everything = everything_in(bundle)
    assert [key for key, marker in MARKERS.items() if marker in everything] == []
    assert "Keep the craving log" not in everything


def test_a_progress_note_category_the_consent_lacks_sends_no_note(notes_world):
    bundle = bundle_of(notes_world, ["attendance", "progress_notes"], consented=["attendance"])

    assert documents(bundle) == []
    assert MARKERS["signed"] not in everything_in(bundle)


def test_a_group_note_export_names_no_other_attendee(notes_world):
    """The group part is shared by the attendees: what goes out as Avery's names neither
    Blake nor Casey, whatever else the bundle carries."""
    bundle = bundle_of(notes_world, [*OTHER_CATEGORIES, "progress_notes"])

    everything = everything_in(bundle)
    assert MARKERS["group"] in everything
    assert MARKERS["signed"] in everything
    assert "Quillfeather" in everything  # the control: Avery's own name is there
    for other in ("blake", "casey"):
        patient = notes_world[other]
        for name in (patient.first_name, patient.last_name):
            assert name not in everything, (other, name)


def test_the_accounting_names_the_notes_sent(notes_world):
    made = disclosure_create(
        actor=notes_world["clinician"],
        patient=notes_world["avery"],
        recipient_name="Northside Outpatient Practice",
        recipient_address="12 Elm Street",
        purpose="treatment",
        categories=["attendance", "progress_notes"],
    )

    assert made.description == (
        "FHIR R4 Bundle: Appointment, DocumentReference (progress notes), Consent"
    )
    assert MARKERS["signed"] in everything_in(made.bundle)
    assert disclosure_description(["psychotherapy_notes"]) == (
        "FHIR R4 Bundle: DocumentReference (psychotherapy notes), Consent"
    )


def test_psychotherapy_notes_need_a_consent_of_their_own(notes_world):
    # The TPO consent names progress notes but not psychotherapy notes.
    with pytest.raises(Conflict) as refused:
        disclosure_create(
            actor=notes_world["clinician"],
            patient=notes_world["avery"],
            recipient_name="Northside Outpatient Practice",
            recipient_address="",
            purpose="treatment",
            categories=["psychotherapy_notes"],
        )
    assert "category not covered: psychotherapy_notes" in str(refused.value)

    ConsentFactory(
        patient=notes_world["avery"],
        actor=notes_world["admissions"],
        recipients="Dr. Rivera",
        purposes=["treatment"],
        purpose_other="",
        categories=["psychotherapy_notes"],
    )
    made = disclosure_create(
        actor=notes_world["clinician"],
        patient=notes_world["avery"],
        recipient_name="Dr. Rivera",
        recipient_address="",
        purpose="treatment",
        categories=["psychotherapy_notes"],
    )
    assert MARKERS["psychotherapy"] in everything_in(made.bundle)
    assert MARKERS["signed"] not in everything_in(made.bundle)


# The consent: psychotherapy notes on their own (42 CFR 2.31(b)) ------------------------------


def test_the_consent_service_refuses_psychotherapy_notes_with_another_category(notes_world):
    with pytest.raises(ValidationError) as refused:
        ConsentFactory(
            patient=notes_world["avery"],
            actor=notes_world["admissions"],
            categories=["psychotherapy_notes", "progress_notes"],
        )
    assert "categories" in refused.value.message_dict
    assert Consent.objects.filter(patient=notes_world["avery"]).count() == 1


def test_the_database_refuses_psychotherapy_notes_with_another_category(notes_world):
    consent = notes_world["consent"]
    with (
        pytest.raises(IntegrityError, match="consent_psychotherapy_notes_alone"),
        transaction.atomic(),
    ):
        Consent.objects.filter(pk=consent.pk).update(
            categories=["attendance", "psychotherapy_notes"]
        )
    Consent.objects.filter(pk=consent.pk).update(categories=["psychotherapy_notes"])


def test_the_consent_api_answers_a_combined_psychotherapy_consent_with_400(client_for, notes_world):
    body = {
        "information": "My counselling notes",
        "recipients": "Dr. Rivera",
        "purpose": "Treatment",
        "recipient_names": ["Dr. Rivera"],
        "purposes": ["treatment"],
        "revocation_how": "In writing, at any time.",
        "expiry_event": "end_of_treatment",
        "signed_on": "2026-11-30",
        "treatment_conditioned": False,
    }
    client = client_for(notes_world["admissions"])
    url = f"/api/v1/patients/{notes_world['avery'].pk}/consents/"

    combined = client.post(
        url, {**body, "categories": ["psychotherapy_notes", "attendance"]}, format="json"
    )
    assert combined.status_code == 400, combined.json()
    assert set(combined.json()["fields"]) == {"categories"}
    assert "42 CFR 2.31(b)" in combined.json()["fields"]["categories"][0]

    alone = client.post(url, {**body, "categories": ["psychotherapy_notes"]}, format="json")
    assert alone.status_code == 201, alone.json()
