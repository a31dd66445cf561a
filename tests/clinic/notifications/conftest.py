"""The fixtures the modules of notifications/ share."""

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from clinic.notifications import backends as channel_backends
from tests.clinic.notifications.helpers import (
    PROJECT,
    SERVICE_ACCOUNT_EMAIL,
    SID,
    FakeProvider,
    Reply,
)


@pytest.fixture(autouse=True)
def _fresh_channels():
    channel_backends.clear()
    yield
    channel_backends.clear()


@pytest.fixture
def fake_provider(monkeypatch):
    # A proxy from the environment must not stand between the backend and 127.0.0.1.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    provider = FakeProvider()
    provider.thread.start()
    yield provider
    provider.server.shutdown()
    provider.server.server_close()


@pytest.fixture
def http_sms(settings, fake_provider):
    settings.SMS_BACKEND = "clinic.notifications.backends.HTTPSMSBackend"
    settings.SMS_API_BASE_URL = fake_provider.url + "/"
    settings.SMS_ACCOUNT_SID = SID
    settings.SMS_AUTH_TOKEN = "sms-auth-token"
    settings.SMS_FROM_NUMBER = "+15550001111"
    settings.SMS_TIMEOUT_SECONDS = 2
    return fake_provider


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def fcm(settings, fake_provider, rsa_key, tmp_path):
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    service_account = tmp_path / "service-account.json"
    service_account.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": "test-key-1",
                "private_key": pem,
                "client_email": SERVICE_ACCOUNT_EMAIL,
                "client_id": "1234567890",
                "token_uri": f"{fake_provider.url}/token",
            }
        )
    )
    settings.PUSH_BACKEND = "clinic.notifications.backends.FCMPushBackend"
    settings.FCM_SERVICE_ACCOUNT_FILE = str(service_account)
    settings.FCM_API_BASE_URL = fake_provider.url
    settings.FCM_TIMEOUT_SECONDS = 2
    fake_provider.replies["/token"] = Reply(
        200, {"access_token": "fake-access-token", "expires_in": 3600, "token_type": "Bearer"}
    )
    return fake_provider
