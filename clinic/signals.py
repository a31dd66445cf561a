"""A user's refresh tokens die with their password or their account (README "Tokens").

Why signals: the built-in User's password changes in places Django owns (the admin's password
form, password reset, ``changepassword``, the re-hash at sign-in after a hasher upgrade) and in
ours (``set_password`` then ``save``); every one ends in ``User.save()``, and the built-in model
offers no method of ours to override. So the one place is the save: before it, the stored
password and ``is_active`` are read (only when the save may change them), and after it, a
change calls ``clinic.services.tokens.user_refresh_tokens_revoke`` inside the caller's
transaction when there is one. Access tokens need no list: they carry a digest of the password
hash that authentication compares (``CHECK_REVOKE_TOKEN``), and a disabled account is refused
outright.
"""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from clinic.services.tokens import user_refresh_tokens_revoke

CREDENTIAL_FIELDS = frozenset({"password", "is_active"})


def remember_credentials(sender, instance, raw=False, update_fields=None, **kwargs):
    if raw or instance.pk is None:
        return
    if update_fields is not None and not CREDENTIAL_FIELDS & set(update_fields):
        return  # e.g. last_login at every sign-in: no read
    instance._credentials_before = (
        sender.objects.filter(pk=instance.pk).values_list("password", "is_active").first()
    )


def revoke_tokens_on_credential_change(sender, instance, created=False, **kwargs):
    before = instance.__dict__.pop("_credentials_before", None)
    if created or before is None:
        return
    password, was_active = before
    if password != instance.password or (was_active and not instance.is_active):
        user_refresh_tokens_revoke(user_id=instance.pk, now=timezone.now())


def connect():
    user_model = get_user_model()
    pre_save.connect(remember_credentials, sender=user_model, dispatch_uid="credentials-before")
    post_save.connect(
        revoke_tokens_on_credential_change, sender=user_model, dispatch_uid="credentials-revoke"
    )
