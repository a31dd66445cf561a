"""Writes of refresh tokens (README "Tokens"): rotating one into its chain's next, revoking every
token of a user when their password changes or their account is disabled, and a whole chain
when a rotated token comes back. The chains themselves are ``clinic.tokens``'."""

import datetime
import logging

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from clinic.models import AuditAction
from clinic.services import audit_record
from clinic.tokens import ChainedRefreshToken, chain_id

logger = logging.getLogger(__name__)


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


class RefreshRefused(Exception):
    """A valid refresh token whose account may no longer refresh: ``reason`` is
    ``"no_active_account"`` (deleted or disabled) or ``"password_changed"``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def refresh_token_rotate(
    *, refresh: ChainedRefreshToken, now: datetime.datetime, chain_ends: datetime.datetime
) -> dict[str, str] | None:
    """Void ``refresh`` and return the chain's next pair ``{"access", "refresh"}``; refused
    (``RefreshRefused``) when its account may no longer sign in. None when a concurrent refresh
    blacklisted it since it was read: that is a reuse too, so the chain is revoked (committed,
    the caller's error must not roll it back)."""
    with transaction.atomic():
        user = user_lock(refresh.payload.get(api_settings.USER_ID_CLAIM))
        if user is None or not api_settings.USER_AUTHENTICATION_RULE(user):
            raise RefreshRefused("no_active_account")
        if refresh.payload.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(
            user.password
        ):
            raise RefreshRefused("password_changed")
        # The insert of the blacklist row decides: only the request that made it gets new tokens.
        _, created = refresh.blacklist()
        if created:
            pair = {"access": str(refresh.access_token)}
            refresh.rotate(now=now, chain_ends=chain_ends)
            refresh.outstand()
            pair["refresh"] = str(refresh)
            return pair
    refresh_chain_revoke(payload=refresh.payload, now=now)
    return None


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
