"""A revocation racing a disclosure: the consent's row lock orders them, so no disclosure is
made under a consent after its revocation committed."""

import pytest
import time_machine

from clinic.errors import Conflict
from patients import services as patient_services
from programs.models import Disclosure
from programs.services.disclosures import disclosure_create
from tests.concurrency import InThread, held_transaction, someone_waits_for_a_lock
from tests.conftest import TUESDAY_10AM
from tests.factories import ConsentFactory, PatientFactory

REQUEST = {
    "recipient_name": "Harbor County Drug Court",
    "recipient_address": "1 Court Plaza",
    "purpose": "other",
    "purpose_other": "Compliance reporting",
    "categories": ["attendance"],
}


@pytest.mark.django_db(transaction=True)
def test_a_disclosure_during_a_revocation_waits_for_it_and_is_refused(
    clinic, admissions, clinician
):
    # given
    with time_machine.travel(TUESDAY_10AM, tick=False):
        patient = PatientFactory(clinic=clinic, actor=admissions)
        consent = ConsentFactory(patient=patient)

        # when: the revocation holds its transaction (and the consent's row) open
        with held_transaction(
            lambda: patient_services.consent_revoke(actor=admissions, consent=consent)
        ):
            disclosing = InThread(
                lambda: disclosure_create(actor=clinician, patient=patient, **REQUEST)
            ).start()
            waited = someone_waits_for_a_lock()

        # then
        assert waited, "the disclosure did not wait for the revocation's row lock"
        with pytest.raises(Conflict) as refused:
            disclosing.join()
    assert refused.value.code == "no_consent"
    assert not Disclosure.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_revocation_during_a_disclosure_waits_and_the_disclosure_stands_before_it(
    clinic, admissions, clinician
):
    # given
    with time_machine.travel(TUESDAY_10AM, tick=False):
        patient = PatientFactory(clinic=clinic, actor=admissions)
        consent = ConsentFactory(patient=patient)

        # when: the disclosure holds the consents' rows while the patient revokes
        with held_transaction(
            lambda: disclosure_create(actor=clinician, patient=patient, **REQUEST)
        ) as disclosure:
            revoking = InThread(
                lambda: patient_services.consent_revoke(actor=admissions, consent=consent)
            ).start()
            waited = someone_waits_for_a_lock()
        revoked = revoking.join()

    # then
    assert waited, "the revocation did not wait for the disclosure's lock"
    assert Disclosure.objects.get() == disclosure
    assert revoked.revoked_at >= disclosure.disclosed_at
