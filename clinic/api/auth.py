"""Tokens: sign-in, refresh with rotation, logout (DESIGN.md "API outer contract").

Access tokens are short-lived (``JWT_ACCESS_MINUTES``) and every request loads the user, so a
disabled account, or a token from before the last password change, is refused at once. Refresh
tokens are recorded (simplejwt's token blacklist): each refresh voids the token it used and
hands out a new one of the same chain (``clinic.tokens``), logout voids the one it is given,
and a password change or a disabled account voids all of the account's (``clinic.signals``).
"""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
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
from rest_framework_simplejwt.utils import get_md5_hash_password
from rest_framework_simplejwt.views import TokenObtainPairView, TokenViewBase

from clinic import tokens
from clinic.api.schema import ErrorSerializer
from clinic.tokens import ChainedRefreshToken, RefreshTokenReused

# A refresh token is a few hundred characters; anything far longer is not one.
TOKEN_MAX_LENGTH = 2000


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(read_only=True)
    refresh = serializers.CharField(read_only=True)


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(write_only=True, max_length=TOKEN_MAX_LENGTH)


class SignInSerializer(TokenObtainPairSerializer):
    """simplejwt's sign-in with bounded inputs (the lengths Django's user model allows)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[self.username_field] = serializers.CharField(write_only=True, max_length=150)
        self.fields["password"] = PasswordField(max_length=128, trim_whitespace=False)


class TokenObtainView(TokenObtainPairView):
    """``POST auth/token/`` with its own, tighter throttle against password guessing."""

    serializer_class = SignInSerializer
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        request=SignInSerializer, responses={200: TokenPairSerializer, 401: ErrorSerializer}
    )
    def post(self, request, *args, **kwargs):
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
            tokens.refresh_chain_revoke(payload=reused.payload, now=timezone.now())
            raise
        # The token read the clock when it checked its expiry: the one clock of this refresh.
        now = refresh.current_time
        chain_ends = tokens.chain_started(refresh.payload) + datetime.timedelta(
            days=settings.JWT_REFRESH_MAX_DAYS
        )
        if now >= chain_ends:
            raise TokenError("The sign-in has expired; sign in again.")
        with transaction.atomic():
            user = tokens.user_lock(refresh.payload.get(api_settings.USER_ID_CLAIM))
            if user is None or not api_settings.USER_AUTHENTICATION_RULE(user):
                raise AuthenticationFailed(
                    self.error_messages["no_active_account"], "no_active_account"
                )
            if refresh.payload.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(
                user.password
            ):
                raise AuthenticationFailed(
                    "The user's password has been changed.", code="password_changed"
                )
            _, created = refresh.blacklist()
            if created:
                data = {"access": str(refresh.access_token)}
                refresh.rotate(now=now, chain_ends=chain_ends)
                refresh.outstand()
                data["refresh"] = str(refresh)
                return data
        # Blacklisted by a concurrent refresh with the same token since it was read: a reuse
        # too (committed above: the chain's revocation must not roll back with this error).
        tokens.refresh_chain_revoke(payload=refresh.payload, now=now)
        raise TokenError("Token is blacklisted")


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
