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
import logging

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch, datetime_to_epoch

from clinic.models import AuditAction
from clinic.services import audit_record

logger = logging.getLogger(__name__)

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


# Revocation ---------------------------------------------------------------------------------------


def _live_refresh_tokens(*, user_id, now: datetime.datetime):
    return OutstandingToken.objects.filter(
        user_id=user_id, expires_at__gt=now, blacklistedtoken__isnull=True
    )


def _blacklist(token_ids: list[int]) -> int:
    # ignore_conflicts: a concurrent refresh or revocation may have blacklisted one meanwhile.
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token_id=token_id) for token_id in token_ids], ignore_conflicts=True
    )
    return len(token_ids)


def user_lock(user_id):
    """The user's row, locked: refreshes and revocations of one user take turns, so a refresh
    cannot hand out a token that a revocation running beside it would miss."""
    return get_user_model().objects.select_for_update().filter(pk=user_id).first()


@transaction.atomic
def user_refresh_tokens_revoke(*, user_id: int, now: datetime.datetime) -> int:
    """Void every refresh token of the user (their password changed, or the account was
    disabled): a later enabling of the account does not bring them back. Returns how many."""
    user_lock(user_id)
    live = _live_refresh_tokens(user_id=user_id, now=now).values_list("pk", flat=True)
    return _blacklist(list(live))


@transaction.atomic
def refresh_chain_revoke(*, payload: dict, now: datetime.datetime) -> int:
    """A rotated refresh token came back: someone holds a copy (reuse means theft), and nobody
    can tell whether the owner or the thief holds the chain's live token, so it is voided too
    and the owner signs in again. Returns how many live tokens it voided."""
    user = user_lock(payload.get(api_settings.USER_ID_CLAIM))
    if user is None:
        return 0
    chain = chain_id(payload)
    # A user holds a few live tokens (one per signed-in device): reading their claims is cheap.
    voided = [
        token_id
        for token_id, token in _live_refresh_tokens(user_id=user.pk, now=now).values_list(
            "pk", "token"
        )
        if chain_id(token_backend.decode(token, verify=False)) == chain
    ]
    if not voided:
        # The chain had already ended (logout, password change, a revocation before): a stale
        # app, nothing to record.
        return 0
    audit_record(actor=None, action=AuditAction.UPDATE, obj=user)
    # No account named: which person holds it may be patient data (the audit row has it).
    logger.warning("A rotated refresh token was reused; its chain is revoked.")
    return _blacklist(voided)
