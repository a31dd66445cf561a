"""The admin site: when ``STAFF_MFA_REQUIRED`` is on, staff sign in with their password and the
code of their authenticator app (django-otp's admin site and login form), and a session that
has not given the code is not let in. A wrong code counts toward the lockout like a wrong
password (clinic.signin)."""

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from clinic import signin


class StaffOTPAuthenticationForm(OTPAdminAuthenticationForm):
    def _chosen_device(self, user):
        # Staff have one authenticator: use it rather than ask them to pick it on a second page.
        return super()._chosen_device(user) or signin.totp_device(user, for_verify=True)

    def clean_otp(self, user):
        try:
            super().clean_otp(user)
        except ValidationError:
            # A wrong code (a missing one is a slip, asked for again) counts as a failed sign-in.
            if user is not None and self.cleaned_data.get("otp_token"):
                signin.sign_in_failed(self.request, user.get_username())
            raise


class StaffAdminSite(OTPAdminSite):
    def __init__(self, name="admin"):
        super().__init__(name)

    @property
    def login_form(self):
        if settings.STAFF_MFA_REQUIRED:
            return StaffOTPAuthenticationForm
        return AdminAuthenticationForm

    @property
    def login_template(self):
        return OTPAdminSite.login_template if settings.STAFF_MFA_REQUIRED else None

    def has_permission(self, request):
        if signin.second_factor_required(request.user):
            return super().has_permission(request)  # ... and the session gave the code
        return AdminSite.has_permission(self, request)
