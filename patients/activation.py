"""Activation codes of the patient's app account (API.md "The patient's app"): their format,
keyed hash and the one refusal. Issuing a code, activating and revoking access are services
(``patients.services``: ``activation_code_issue``, ``patient_app_activate``,
``patient_app_access_revoke``).

Staff at the front desk issue a one-time code; the patient types it into the app with their date
of birth and chooses a username and password, which creates the app account
(``Patient.app_user``). Only a keyed hash of the code is stored (HMAC-SHA256 with the server's
``SECRET_KEY``, so a copy of the database alone cannot test guesses offline): the plain code is
returned to staff once and is never stored or logged. Changing ``SECRET_KEY`` voids the codes
not yet used.

A refused activation says nothing about why: an unknown, used, expired, replaced or locked code
and a wrong date of birth all give one and the same error (``ActivationRefused``), so the
endpoint cannot be used to learn whether a code exists or whose birth date is whose. A wrong
date of birth does not use the code up, but ``MAX_FAILED_ATTEMPTS`` of them lock it. Nor can it
be used to learn which usernames exist (a staff member's, say): a taken username is said only
to a caller who holds a valid code and the right date of birth.
"""

import secrets

from django.utils.crypto import salted_hmac

from clinic.errors import ServiceError

# No 0/O, 1/I/L: read aloud or copied from paper without mistakes. 31 symbols, 12 of them:
# about 59 bits, far beyond guessing through a throttled endpoint before the code expires.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
CODE_GROUP = 4
MAX_FAILED_ATTEMPTS = 5


class ActivationRefused(ServiceError):
    """The one answer to every activation that fails on the code or the date of birth."""

    status_code = 400
    default_code = "activation_failed"
    DETAIL = (
        "This activation code and date of birth cannot be used. Check both and try again, or "
        "ask the clinic for a new code."
    )

    def __init__(self):
        super().__init__(self.DETAIL)


# Codes --------------------------------------------------------------------------------------------


def code_normalize(code: str) -> str:
    """What the patient typed, without the grouping and in capitals (``abcd efgh-jkmn`` works)."""
    return "".join(code.split()).replace("-", "").upper()


def code_hash(code: str) -> str:
    return salted_hmac(
        "continuum.patients.activation_code", code_normalize(code), algorithm="sha256"
    ).hexdigest()


def code_new() -> str:
    """A fresh code, grouped for reading: ``ABCD-EFGH-JKMN``."""
    symbols = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(
        symbols[start : start + CODE_GROUP] for start in range(0, CODE_LENGTH, CODE_GROUP)
    )
