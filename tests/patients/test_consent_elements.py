"""A consent's §2.31 elements and what it covers: pure checks on unsaved consents (the
disclosure service applies them under its lock; tests/programs/disclosures/)."""

import datetime

import pytest

from patients.models import Consent, Patient

SIGNED = datetime.date(2026, 1, 15)
TODAY = datetime.date(2026, 6, 1)


def complete(**changes) -> Consent:
    """A complete consent to a named recipient, for treatment, of attendance, until a date."""
    fields = {
        "patient": Patient(date_of_birth=datetime.date(1980, 5, 1)),
        "recipient_names": ["Harbor Outpatient Clinic"],
        "purposes": ["treatment"],
        "categories": ["attendance", "aftercare"],
        "revocation_how": "In writing to the privacy officer.",
        "expires_on": datetime.date(2027, 1, 15),
        "signed_on": SIGNED,
        "treatment_conditioned": False,
        **changes,
    }
    return Consent(**fields)


def covers(consent, **changes):
    request = {
        "recipient": "Harbor Outpatient Clinic",
        "purpose": "treatment",
        "categories": ["attendance"],
        "on": TODAY,
        **changes,
    }
    return consent.covers(**request)


def test_a_complete_consent_misses_nothing_and_covers_what_it_names():
    consent = complete()

    assert consent.missing_elements() == []
    assert covers(consent) == []


@pytest.mark.parametrize(
    ("changes", "element"),
    [
        ({"recipient_names": []}, "recipient_names"),
        ({"recipient_names": ["  "]}, "recipient_names"),
        ({"purposes": []}, "purposes"),
        ({"purposes": ["other"]}, "purpose_other"),
        ({"categories": []}, "categories"),
        ({"revocation_how": ""}, "revocation_how"),
        ({"expires_on": None}, "expires_on"),
        ({"expires_on": None, "no_expiry": True}, "expires_on"),
        ({"signer_relation": "guardian"}, "signer_name"),
        ({"treatment_conditioned": None}, "treatment_conditioned"),
    ],
)
def test_each_missing_element_is_named(changes, element):
    consent = complete(**changes)

    assert consent.missing_elements() == [element]
    assert covers(consent)[0].startswith("incomplete: ")


def test_a_minors_consent_needs_a_representative():
    minor = Patient(date_of_birth=datetime.date(2009, 1, 16))  # 16 when signing

    alone = complete(patient=minor)
    with_parent = complete(patient=minor, signer_relation="parent", signer_name="Ana Diaz")

    assert alone.missing_elements() == ["signer_relation"]
    assert with_parent.missing_elements() == []


def test_a_consent_signed_on_the_eighteenth_birthday_is_an_adults():
    assert (
        complete(patient=Patient(date_of_birth=datetime.date(2008, 1, 15))).missing_elements() == []
    )


def test_a_migrated_consent_with_only_free_text_permits_nothing():
    old = Consent(
        patient=Patient(date_of_birth=datetime.date(1980, 5, 1)),
        information="Attendance",
        recipients="Harbor Outpatient Clinic",
        purpose="Coordination of care",
        expiry_event="End of probation",
        signed_on=SIGNED,
    )

    assert old.missing_elements() == [
        "recipient_names",
        "purposes",
        "categories",
        "revocation_how",
        "treatment_conditioned",
    ]
    assert covers(old) != []


def test_the_tpo_class_covers_any_recipient_for_treatment_payment_and_operations_only():
    tpo = complete(
        recipient_names=[],
        recipients_tpo=True,
        purposes=["treatment", "payment", "patient_request"],
        expires_on=None,
        no_expiry=True,
    )

    assert tpo.missing_elements() == []
    assert covers(tpo, recipient="Any Health Plan", purpose="payment") == []
    assert covers(tpo, recipient="Any Health Plan", purpose="patient_request") == [
        "recipient not named: Any Health Plan"
    ]


def test_a_named_recipient_matches_whatever_the_case_and_spacing():
    assert covers(complete(), recipient="  harbor   OUTPATIENT clinic ") == []
    assert covers(complete(), recipient="Harbor Inpatient") == [
        "recipient not named: Harbor Inpatient"
    ]


def test_a_purpose_or_category_not_listed_is_named():
    problems = covers(complete(), purpose="payment", categories=["attendance", "assessments"])

    assert problems == ["purpose not listed: payment", "category not covered: assessments"]


def test_an_expired_consent_covers_nothing_from_the_day_after_its_date():
    consent = complete(expires_on=datetime.date(2026, 5, 31))

    assert covers(consent, on=datetime.date(2026, 5, 31)) == []
    assert covers(consent) == ["expired on 2026-05-31"]


def test_an_end_of_treatment_consent_expires_when_treatment_has_ended():
    consent = complete(expires_on=None, expiry_event="End of treatment")

    assert consent.expires_at_end_of_treatment()
    assert covers(consent, in_treatment=True) == []
    assert covers(consent, in_treatment=False) == ["expired at the end of treatment"]


def test_a_revoked_consent_covers_nothing_from_its_revocation_day():
    consent = complete(revoked_on=TODAY)

    assert covers(consent, on=TODAY - datetime.timedelta(days=1)) == []
    assert covers(consent) == [f"revoked on {TODAY}"]


def test_a_consent_covers_nothing_before_it_is_signed():
    assert covers(complete(), on=SIGNED - datetime.timedelta(days=1)) == [
        f"not signed until {SIGNED}"
    ]
