"""The patient's app account: activation codes, activation and revoked access (API.md "The
patient's app").

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

import datetime
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac

from clinic.errors import Conflict, ServiceError
from clinic.models import USERNAME_TAKEN, AuditAction
from clinic.selectors import clinic_ids_for_user
from clinic.services import audit_record
from patients.models import ActivationCode, Patient

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


def _code_new() -> str:
    """A fresh code, grouped for reading: ``ABCD-EFGH-JKMN``."""
    symbols = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(
        symbols[start : start + CODE_GROUP] for start in range(0, CODE_LENGTH, CODE_GROUP)
    )


# Selectors ----------------------------------------------------------------------------------------


def patients_in_reach(*, user) -> QuerySet[Patient]:
    """The patients of the caller's clinics: another clinic's patient is a 404, like a missing
    one."""
    return Patient.objects.filter(clinic_id__in=clinic_ids_for_user(user))


def activation_codes_open(*, patient: Patient) -> QuerySet[ActivationCode]:
    """Codes of the patient not used, locked or revoked (expired ones included: still open)."""
    return ActivationCode.objects.filter(
        patient=patient, used_at=None, locked_at=None, revoked_at=None
    )


def has_active_app_account(patient: Patient) -> bool:
    return patient.app_user_id is not None and patient.app_user.is_active


def _patient_lock(patient_id: int) -> Patient:
    # Issuing, activating and revoking all lock the patient first, then its codes: one order,
    # so they queue behind each other instead of deadlocking.
    return Patient.objects.select_for_update().get(pk=patient_id)


# Services -----------------------------------------------------------------------------------------


@transaction.atomic
def activation_code_issue(*, actor, patient: Patient) -> tuple[ActivationCode, str]:
    """A new code for the patient, replacing any earlier unused one. Returns the row and the
    plain code, which the caller shows once: only its hash is kept."""
    patient = _patient_lock(patient.pk)
    if has_active_app_account(patient):
        raise Conflict(
            "The patient already has an active app account. Revoke its access first to issue "
            "a new activation code.",
            code="app_account_active",
        )
    now = timezone.now()
    activation_codes_open(patient=patient).update(revoked_at=now)
    plain = _code_new()
    code = ActivationCode.objects.create(
        patient=patient,
        code_hash=code_hash(plain),
        created_by=actor,
        expires_at=now + datetime.timedelta(hours=settings.ACTIVATION_CODE_HOURS),
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=code,
        clinic=patient.clinic_id,
        patient_id=patient.pk,
    )
    return code, plain


def _new_account_errors(user, password: str) -> dict[str, list[str]]:
    errors = {}
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as error:
        errors["password"] = list(error.messages)
    return errors


def patient_app_activate(
    *, activation_code: str, date_of_birth: datetime.date, username: str, password: str
):
    """Create the patient's app account from a code and the date of birth; returns the user.

    The password is checked first, against nothing the code decides or any account holds, so
    its field errors tell nothing. Then the code and date of birth: every failure there is the
    same ``ActivationRefused``. Only then the username: whether it is taken (in any case: the
    database's index on ``lower(username)`` decides) is told only to a caller who holds both.

    Not one atomic block on purpose: a wrong date of birth must count (and lock the code at the
    fifth) even though the request fails, so the count commits before the refusal is raised.
    Callers must not wrap this in a transaction of their own.
    """
    errors = _new_account_errors(get_user_model()(username=username), password)
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        user = _activate_under_lock(
            code_hash(activation_code), date_of_birth, username=username, password=password
        )
    if user is None:
        raise ActivationRefused()
    return user


def _activate_under_lock(hashed: str, date_of_birth, *, username: str, password: str):
    """The account for a good code and date of birth, else None (after counting a wrong date)."""
    patient_id = (
        ActivationCode.objects.filter(code_hash=hashed).values_list("patient_id", flat=True).first()
    )
    if patient_id is None:
        return None
    patient = _patient_lock(patient_id)
    # Locked after the patient, and read again under the lock: of concurrent activations with
    # one code, the first marks it used and every later one sees that here.
    code = ActivationCode.objects.select_for_update().get(code_hash=hashed)
    now = timezone.now()
    if (
        code.used_at is not None
        or code.locked_at is not None
        or code.revoked_at is not None
        or code.expires_at <= now
        or has_active_app_account(patient)
    ):
        return None
    if date_of_birth != patient.date_of_birth:
        code.failed_attempts += 1
        changed = ["failed_attempts"]
        if code.failed_attempts >= MAX_FAILED_ATTEMPTS:
            code.locked_at = now
            changed.append("locked_at")
        code.save(update_fields=changed)
        audit_record(
            actor=None,
            action=AuditAction.UPDATE,
            obj=code,
            clinic=patient.clinic_id,
            patient_id=patient.pk,
        )
        return None

    User = get_user_model()
    # Only now, with the right code and date of birth: a password too close to the patient's
    # own names. The answer reaches only someone who already holds both.
    errors = _new_account_errors(
        User(
            username=username,
            first_name=patient.first_name,
            last_name=patient.last_name,
            email=patient.email,
        ),
        password,
    )
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, password=password)
    except IntegrityError as error:
        # The unique indexes on username and lower(username); nothing else can clash here.
        raise ValidationError({"username": [USERNAME_TAKEN]}) from error
    patient.app_user = user
    patient.save(update_fields=["app_user", "updated_at"])
    code.used_at = now
    code.save(update_fields=["used_at"])
    audit_record(
        actor=user,
        action=AuditAction.UPDATE,
        obj=code,
        clinic=patient.clinic_id,
        patient_id=patient.pk,
    )
    return user


@transaction.atomic
def patient_app_access_revoke(*, actor, patient: Patient) -> None:
    """Turn the patient's app off at once: the account is disabled (its access tokens fail on
    the next request), every refresh token it holds is blacklisted, and open codes are revoked.
    A new code can be issued afterwards; activating it makes a new account."""
    patient = _patient_lock(patient.pk)
    now = timezone.now()
    codes_revoked = activation_codes_open(patient=patient).update(revoked_at=now)
    user = patient.app_user
    if user is not None and user.is_active:
        user.is_active = False
        # The save voids the account's refresh tokens (clinic.signals), in this transaction.
        user.save(update_fields=["is_active"])
    elif not codes_revoked:
        raise Conflict("The patient has no app access to revoke.", code="no_app_access")
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=patient,
        clinic=patient.clinic_id,
        patient_id=patient.pk,
    )
