"""Revoking refresh tokens (README "Tokens"): every refresh token of a user when their password
changes or their account is disabled, and a whole chain when a rotated token comes back. The
chains themselves are ``clinic.tokens``'."""

import datetime
import logging

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from clinic.models import AuditAction
from clinic.services import audit_record
from clinic.tokens import chain_id

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
