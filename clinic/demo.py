"""The demo clinic and its staff (API.md, "Demo data"); idempotent: a second run changes nothing."""

from base64 import b32encode
from urllib.parse import quote

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.models import Clinic, ClinicMembership, Role

DEMO_CLINIC_NAME = "Demo Recovery Center"
DEMO_PUBLIC_NAME = "Maple Street Health"
DEMO_TIME_ZONE = "America/New_York"

# username -> role (None: the superuser)
DEMO_STAFF = {
    "admin": None,
    "admissions": Role.ADMISSIONS,
    "clinician": Role.CLINICIAN,
    "supervisor": Role.SUPERVISOR,
    "utilization_review": Role.UTILIZATION_REVIEW,
}


# The demo staff's authenticator key, for signing in when two-factor sign-in is on: RFC 6238's
# published test secret (ASCII "12345678901234567890"), as public as the demo password. Every
# demo user has it, so one entry in an authenticator app serves them all.
DEMO_TOTP_KEY = "3132333435363738393031323334353637383930"  # hex, as django-otp stores it
DEMO_TOTP_DEVICE = "demo authenticator"


def demo_totp_secret() -> str:
    """The key as authenticator apps take it (base32)."""
    return b32encode(bytes.fromhex(DEMO_TOTP_KEY)).decode()


def demo_otpauth_uri() -> str:
    """The key as an ``otpauth://`` URI (what a QR code would hold) for the demo staff."""
    return (
        f"otpauth://totp/{quote('Continuum demo:staff')}?secret={demo_totp_secret()}"
        f"&issuer={quote('Continuum demo')}&algorithm=SHA1&digits=6&period=30"
    )


@transaction.atomic
def seed_demo_clinic(*, password: str) -> Clinic:
    clinic, _ = Clinic.objects.get_or_create(
        name=DEMO_CLINIC_NAME,
        defaults={"public_name": DEMO_PUBLIC_NAME, "time_zone": DEMO_TIME_ZONE},
    )
    User = get_user_model()
    for username, role in DEMO_STAFF.items():
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, email=f"{username}@demo.invalid")
            user.set_password(password)
        user.is_staff = True
        user.is_superuser = role is None
        user.save()
        if role is not None:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        ClinicMembership.objects.get_or_create(user=user, clinic=clinic)
        TOTPDevice.objects.get_or_create(
            user=user, name=DEMO_TOTP_DEVICE, defaults={"key": DEMO_TOTP_KEY, "confirmed": True}
        )
    return clinic
