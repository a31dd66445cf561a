"""Tokens: sign-in, refresh with rotation, logout (DESIGN.md "API outer contract").

Access tokens are short-lived (``JWT_ACCESS_MINUTES``) and every request loads the user, so a
disabled account, or a token from before the last password change, is refused at once. Refresh
tokens are recorded (simplejwt's token blacklist): each refresh voids the token it used and
hands out a new one of the same chain (``clinic.tokens``), logout voids the one it is given,
and a password change or a disabled account voids all of the account's (``clinic.signals``).

Sign-in counts toward django-axes' lockout (clinic.signin): ``AXES_FAILURE_LIMIT`` failures of
one username from one address within ``AXES_COOLOFF_MINUTES`` lock that pair for the cool-off,
answered 429 ``locked_out``, the admin's login form and the API alike. Staff give the code of
their authenticator app as well (``otp``) when ``STAFF_MFA_REQUIRED`` is on.
"""

import datetime

from django.conf import settings
from django.contrib.auth.models import update_last_login
from django.http import JsonResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import (
    PasswordField,
    TokenBlacklistSerializer,
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
)
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.views import TokenObtainPairView, TokenViewBase

from clinic import signin, tokens
from clinic.api.errors import error_body
from clinic.api.schema import ErrorSerializer
from clinic.errors import ServiceError
from clinic.services.tokens import RefreshRefused, refresh_chain_revoke, refresh_token_rotate
from clinic.tokens import ChainedRefreshToken, RefreshTokenReused

# A refresh token is a few hundred characters; anything far longer is not one.
TOKEN_MAX_LENGTH = 2000


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(read_only=True)
    refresh = serializers.CharField(read_only=True)


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(write_only=True, max_length=TOKEN_MAX_LENGTH)


LOCKED_OUT = (
    "Too many failed sign-ins for this username from this address: signing in is locked for "
    "{minutes} minutes."
)


def _cool_off_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


class LockedOut(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"

    def __init__(self):
        super().__init__(LOCKED_OUT.format(minutes=_cool_off_seconds() // 60))
        self.wait = _cool_off_seconds()  # DRF's handler sends it as Retry-After


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out sign-in outside the API (the admin's login form):
    the API's error body (``AXES_LOCKOUT_CALLABLE``)."""
    exc = LockedOut()
    return JsonResponse(
        error_body(exc.default_code, str(exc.detail)),
        status=exc.status_code,
        headers={"Retry-After": str(exc.wait)},
    )


class SignInSerializer(TokenObtainPairSerializer):
    """simplejwt's sign-in with bounded inputs (the lengths Django's user model allows), the
    lockout, and for staff the second factor before any token is made."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[self.username_field] = serializers.CharField(write_only=True, max_length=150)
        self.fields["password"] = PasswordField(max_length=128, trim_whitespace=False)
        self.fields["otp"] = serializers.CharField(
            write_only=True,
            required=False,
            allow_blank=True,
            max_length=16,
            help_text="Staff: the code their authenticator app shows (required when the "
            "deployment requires two-factor sign-in for staff). Not for patients' app accounts.",
        )

    def validate(self, attrs):
        request = self.context["request"]
        try:
            # Authentication only (the pair's own validate would make tokens at once): django-axes
            # refuses a locked-out caller and counts a wrong password.
            super(TokenObtainPairSerializer, self).validate(attrs)
        except AuthenticationFailed:
            if signin.locked_out(request):
                raise LockedOut() from None
            raise
        if signin.second_factor_required(self.user):
            self._second_factor_check(request, attrs.get("otp", ""))
        refresh = self.get_token(self.user)
        if api_settings.UPDATE_LAST_LOGIN:
            update_last_login(None, self.user)
        return {"refresh": str(refresh), "access": str(refresh.access_token)}

    def _second_factor_check(self, request, code: str) -> None:
        if not code.strip():
            raise ServiceError(
                "Enter the code of your authenticator app to sign in.",
                code="otp_required",
                fields={"otp": ["This field is required for staff."]},
            )
        if signin.second_factor_verify(self.user, code) is None:
            signin.sign_in_failed(request, self.user.get_username())
            if signin.locked_out(request):
                raise LockedOut()
            raise AuthenticationFailed(
                "The code is not valid. Enter the code your authenticator app shows now.",
                code="otp_invalid",
            )


class TokenObtainView(TokenObtainPairView):
    """``POST auth/token/`` with its own, tighter throttle against password guessing, and the
    lockout behind it."""

    serializer_class = SignInSerializer
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        request=SignInSerializer, responses={200: TokenPairSerializer, 401: ErrorSerializer}
    )
    def post(self, request, *args, **kwargs):
        """Sign in: a wrong username or password is 401 `authentication_failed`. Staff give
        `otp` as well when two-factor sign-in is required: without it 400 `otp_required` (after
        the password), a wrong or reused code 401 `otp_invalid`. After `AXES_FAILURE_LIMIT`
        failures of one username from one address: 429 `locked_out` for `AXES_COOLOFF_MINUTES`
        (with Retry-After), whatever the password."""
        return super().post(request, *args, **kwargs)


class RotatingRefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh with rotation, made race-free, bounded and strict about the account.

    - simplejwt blacklists the used token with get_or_create and ignores whether it was already
      there, so two concurrent refreshes with one token could both succeed. Here the insert of
      the blacklist row decides: only the request that made it gets new tokens.
    - A rotated token presented again within its lifetime voids its whole chain
      (``clinic.tokens``): reuse means theft.
    - A chain ends ``JWT_REFRESH_MAX_DAYS`` after its sign-in, however often it is refreshed.
    - A token of a deleted or disabled account, or from before the account's last password
      change, is refused like any other bad token.
    """

    refresh = serializers.CharField(max_length=TOKEN_MAX_LENGTH)
    token_class = ChainedRefreshToken

    def validate(self, attrs):
        try:
            refresh = self.token_class(attrs["refresh"])  # signature, blacklist, expiry
        except RefreshTokenReused as reused:
            refresh_chain_revoke(payload=reused.payload, now=timezone.now())
            raise
        # The token read the clock when it checked its expiry: the one clock of this refresh.
        now = refresh.current_time
        chain_ends = tokens.chain_started(refresh.payload) + datetime.timedelta(
            days=settings.JWT_REFRESH_MAX_DAYS
        )
        if now >= chain_ends:
            raise TokenError("The sign-in has expired; sign in again.")
        try:
            pair = refresh_token_rotate(refresh=refresh, now=now, chain_ends=chain_ends)
        except RefreshRefused as refused:
            if refused.reason == "password_changed":
                raise AuthenticationFailed(
                    "The user's password has been changed.", code="password_changed"
                ) from refused
            raise AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            ) from refused
        if pair is None:
            raise TokenError("Token is blacklisted")
        return pair


class TokenRefreshView(TokenViewBase):
    """``POST auth/token/refresh/``: new access and refresh tokens; the old refresh token is
    void from then on (its reuse is a 401)."""

    serializer_class = RotatingRefreshSerializer

    @extend_schema(
        request=RefreshInputSerializer, responses={200: TokenPairSerializer, 401: ErrorSerializer}
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class LogoutSerializer(TokenBlacklistSerializer):
    refresh = serializers.CharField(write_only=True, max_length=TOKEN_MAX_LENGTH)


class LogoutView(TokenViewBase):
    """``POST auth/logout/`` ``{"refresh"}``: the refresh token is void from now on.

    The refresh token is the credential (no access token needed, so an app whose access token
    ran out can still log out). The access tokens already handed out live out their few minutes;
    disabling the account stops them at once.
    """

    serializer_class = LogoutSerializer

    @extend_schema(request=RefreshInputSerializer, responses={204: None, 401: ErrorSerializer})
    def post(self, request, *args, **kwargs):
        super().post(request, *args, **kwargs)
        return Response(status=status.HTTP_204_NO_CONTENT)
