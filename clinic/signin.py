"""Staff sign-in: who must give a second factor, checking it, and counting failures for the
lockout. The admin's login form (clinic.admin_site) and the API's ``auth/token/``
(clinic.api.auth) both use it.

The second factor is a TOTP code (RFC 6238, any authenticator app) from the staff member's
django-otp device; a device accepts each code once and slows wrong codes down (its own
throttle). The lockout is django-axes: its authentication backend refuses a locked-out caller
before the password is checked, and every failed ``authenticate()`` counts. A wrong second
factor happens after ``authenticate()`` succeeded, so it is counted here, the same way.
"""

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.throttling import BaseThrottle

from clinic.selectors import user_roles


def second_factor_required(user) -> bool:
    """Staff sign in with a second factor when ``STAFF_MFA_REQUIRED`` is on: the roles,
    admin staff and superusers. A patient's app account is none of these and never needs one."""
    if not settings.STAFF_MFA_REQUIRED or not user.is_authenticated:
        return False
    return user.is_superuser or user.is_staff or bool(user_roles(user))


def totp_device(user, *, for_verify: bool = False) -> TOTPDevice | None:
    """The staff member's authenticator: their first confirmed TOTP device, or None."""
    devices = TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("pk")
    if for_verify:
        # Verifying writes the device (last code used, throttle): one request at a time.
        devices = devices.select_for_update()
    return devices.first()


def second_factor_verify(user, code: str) -> TOTPDevice | None:
    """The device that accepts ``code`` now, else None (no device, a wrong or reused code, or a
    device throttled by earlier wrong codes). A wrong code's throttle count is committed."""
    with transaction.atomic():
        device = totp_device(user, for_verify=True)
        if device is None or not device.verify_token("".join(code.split())):
            return None
    return device


def sign_in_failed(request, username: str) -> None:
    """Count a failed sign-in that ``authenticate()`` did not see (a wrong second factor) toward
    the lockout, as django-axes counts a wrong password; it may lock the caller out."""
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)


def locked_out(request) -> bool:
    """Whether django-axes refused this sign-in or locked the caller out with this failure."""
    return bool(getattr(request, "axes_locked_out", False))


def client_address(request) -> str:
    """The caller's address as the throttles see it (``NUM_PROXIES``): a forged
    X-Forwarded-For does not give a guesser a fresh count (``AXES_CLIENT_IP_CALLABLE``)."""
    return BaseThrottle().get_ident(request)
