"""Refresh-token chains: every refresh token descends from one sign-in, and that sign-in bounds
them all (README "Tokens").

A sign-in (or an activation) issues a chain's first refresh token; each refresh rotates it into
the next. Rotated tokens carry two claims of the chain: its id (``chain``, the first token's
``jti``) and when it began (``chain_iat``, the first token's ``iat``). A token without them is
the chain's first, so sign-in needs no change of simplejwt's token. The chain's start bounds
its life (``JWT_REFRESH_MAX_DAYS``) however often it is refreshed, and its id lets the reuse of
a rotated token void the chain's live token too.
"""

import datetime

from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch, datetime_to_epoch

CHAIN_CLAIM = "chain"
CHAIN_IAT_CLAIM = "chain_iat"


class RefreshTokenReused(TokenError):
    """A refresh token that is already blacklisted was presented again (its payload verified:
    the signature is checked before the blacklist)."""

    def __init__(self, payload: dict):
        super().__init__("Token is blacklisted")
        self.payload = payload


def chain_id(payload: dict) -> str:
    return str(payload.get(CHAIN_CLAIM) or payload[api_settings.JTI_CLAIM])


def chain_started(payload: dict) -> datetime.datetime:
    return datetime_from_epoch(payload.get(CHAIN_IAT_CLAIM) or payload["iat"])


class ChainedRefreshToken(RefreshToken):
    """simplejwt's refresh token that tells a reused token from any other bad one."""

    # The chain is the refresh token's business; access tokens need not carry it.
    no_copy_claims = (*RefreshToken.no_copy_claims, CHAIN_CLAIM, CHAIN_IAT_CLAIM)

    def check_blacklist(self) -> None:
        try:
            super().check_blacklist()
        except TokenError as error:
            raise RefreshTokenReused(self.payload) from error

    def rotate(self, *, now: datetime.datetime, chain_ends: datetime.datetime) -> None:
        """Make this token the chain's next one: a new id and lifetime from ``now``, never past
        the chain's end."""
        self[CHAIN_CLAIM] = chain_id(self.payload)
        self[CHAIN_IAT_CLAIM] = self.payload.get(CHAIN_IAT_CLAIM) or self.payload["iat"]
        self.current_time = now
        self.set_jti()
        self.set_exp(from_time=now)
        self.set_iat(at_time=now)
        self["exp"] = min(self["exp"], datetime_to_epoch(chain_ends))
