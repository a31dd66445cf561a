"""Give a staff member an authenticator (a TOTP device) and print its key, for their app.

The first superuser of a deployment has no other way in once two-factor sign-in is on; later,
a superuser may also add devices in the admin (OTP TOTP › TOTP devices, with its QR code).
"""

from base64 import b32encode

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

DEVICE_NAME = "authenticator"


class Command(BaseCommand):
    help = "Enroll a staff user's authenticator app (TOTP) and print its key and otpauth URI."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Remove the user's existing authenticators first (a lost phone).",
        )

    @transaction.atomic
    def handle(self, *args, username, replace=False, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        devices = TOTPDevice.objects.filter(user=user)
        if devices.exists() and not replace:
            raise CommandError(
                f"{username} already has an authenticator; --replace to give a new one."
            )
        devices.delete()
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True)
        self.stdout.write(
            f"Authenticator key for {username}: {b32encode(device.bin_key).decode()}\n"
            f"{device.config_url}\n"
            "Add it to the authenticator app (or scan the URI as a QR code)."
        )
