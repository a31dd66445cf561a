"""The inbound SMS webhook's signature check and parsing, and the words that opt out and back in."""

import pytest
from django.http import QueryDict

from clinic.notifications.webhooks import (
    is_opt_in,
    is_opt_out,
    parse_inbound_sms,
    verify_sms_signature,
)
from tests.clinic.notifications.helpers import INBOUND, PHONE, WEBHOOK_URL, expected_signature


def test_webhook_signature_verifies_a_known_good_request():
    signature = expected_signature(WEBHOOK_URL, INBOUND, "sms-auth-token")

    assert verify_sms_signature(
        url=WEBHOOK_URL, params=INBOUND, signature=signature, auth_token="sms-auth-token"
    )


def test_webhook_signature_matches_the_providers_published_examples():
    # Twilio's own validator examples (auth token "12345"), the second with a repeated name.
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    repeated = QueryDict("Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234")

    assert verify_sms_signature(
        url=url, params=params, signature="RSOYDt4T1cUTdK1PDd93/VVr8B8=", auth_token="12345"
    )
    assert verify_sms_signature(
        url=url, params=repeated, signature="IK+Dwps556ElfBT0I3Rgjkr1wJU=", auth_token="12345"
    )


def test_webhook_signature_verifies_the_query_dict_of_a_request():
    signature = expected_signature(WEBHOOK_URL, INBOUND, "sms-auth-token")
    post = QueryDict(mutable=True)
    post.update(INBOUND)

    assert verify_sms_signature(
        url=WEBHOOK_URL, params=post, signature=signature, auth_token="sms-auth-token"
    )


def test_webhook_signature_accepts_the_url_with_or_without_its_default_port():
    with_port = "https://clinic.example:443/api/v1/sms/inbound/?source=twilio"
    signature = expected_signature(with_port, INBOUND, "sms-auth-token")

    assert verify_sms_signature(
        url=WEBHOOK_URL, params=INBOUND, signature=signature, auth_token="sms-auth-token"
    )


@pytest.mark.parametrize(
    ("url", "params", "token"),
    [
        (WEBHOOK_URL, INBOUND | {"Body": "START"}, "sms-auth-token"),
        (WEBHOOK_URL, INBOUND | {"Extra": "1"}, "sms-auth-token"),
        ("https://clinic.example/api/v1/sms/inbound/", INBOUND, "sms-auth-token"),
        (WEBHOOK_URL, INBOUND, "another-token"),
    ],
)
def test_webhook_signature_rejects_a_tampered_request(url, params, token):
    signature = expected_signature(WEBHOOK_URL, INBOUND, "sms-auth-token")

    assert not verify_sms_signature(url=url, params=params, signature=signature, auth_token=token)


@pytest.mark.parametrize("signature", ["", "not-base64!", "ünïcode"])
def test_webhook_signature_rejects_garbage(signature):
    assert not verify_sms_signature(
        url=WEBHOOK_URL, params=INBOUND, signature=signature, auth_token="sms-auth-token"
    )


def test_parse_inbound_sms_reads_sender_and_body():
    assert parse_inbound_sms(INBOUND) == (PHONE, "STOP")

    with pytest.raises(ValueError, match="no sender"):
        parse_inbound_sms({"Body": "STOP"})


@pytest.mark.parametrize("body", ["STOP", " stop\n", "Unsubscribe", "QUIT", "stopall"])
def test_stop_words_opt_out(body):
    assert is_opt_out(body)
    assert not is_opt_in(body)


@pytest.mark.parametrize("body", ["Please stop", "STOP it", "Yes", ""])
def test_other_texts_do_not_opt_out(body):
    assert not is_opt_out(body)


def test_start_opts_back_in():
    assert is_opt_in("start")
