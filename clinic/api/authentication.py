"""JWT authentication that loads, in the one query every request makes for its user, what the
permission classes and selectors ask of that user next.

simplejwt's class loads the user alone; the permission check then asks for the user's roles
(``clinic.selectors.user_roles``), the staff selectors for the user's clinics
(``clinic_ids_for_user``) and the patient's app for the linked patient and that patient's
clinic (``user.patient.clinic``): three or four more queries on every request. Here they come in
the same query (the patient and clinic joined, roles and clinic ids as array subqueries) and are
cached on the user object where those helpers look first. Checks are simplejwt's own.
"""

from django.contrib.auth.models import Group
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef
from django.utils.translation import gettext_lazy as _
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework import authentication as drf_authentication
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from clinic import signin
from clinic.api.patient_permissions import patient_access_facts, remember_patient_access_facts
from clinic.models import ClinicMembership, Role


def user_with_context(queryset):
    """``queryset`` of users with their roles, clinic ids, and linked patient and its clinic
    with what the patient's access checks decide on."""
    return queryset.select_related("patient__clinic").annotate(
        _role_names=ArraySubquery(
            Group.objects.filter(user=OuterRef("pk"), name__in=Role.values).values("name")
        ),
        _membership_clinic_ids=ArraySubquery(
            ClinicMembership.objects.filter(user=OuterRef("pk")).values("clinic_id")
        ),
        **patient_access_facts("patient"),
    )


def cache_context(user):
    """Put the annotations where ``user_roles``, ``clinic_ids_for_user`` and the patient's
    access checks look first."""
    user._continuum_roles = set(user._role_names)
    if not user.is_superuser:
        user._continuum_clinic_ids = list(user._membership_clinic_ids)
    remember_patient_access_facts(user)
    return user


class JWTAuthentication(authentication.JWTAuthentication):
    def get_user(self, validated_token):
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as e:
            raise InvalidToken(_("Token contained no recognizable user identification")) from e
        try:
            user = user_with_context(self.user_model.objects).get(
                **{api_settings.USER_ID_FIELD: user_id}
            )
        except self.user_model.DoesNotExist as e:
            raise AuthenticationFailed(_("User not found"), code="user_not_found") from e
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(
                _("The user's password has been changed."), code="password_changed"
            )
        return cache_context(user)


class SessionAuthentication(drf_authentication.SessionAuthentication):
    """The admin's session, for staff only once it holds their second factor (as the admin
    itself asks): a session signed in without it, before ``STAFF_MFA_REQUIRED`` was turned on,
    is anonymous here too."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        if signin.second_factor_required(user) and not user.is_verified():
            return None
        return result


class JWTScheme(SimpleJWTScheme):
    """The schema's security scheme for this class: simplejwt's (Bearer JWT)."""

    target_class = "clinic.api.authentication.JWTAuthentication"


class SessionCookieScheme(SessionScheme):
    """The schema's security scheme for the session class: DRF's (the session cookie)."""

    target_class = "clinic.api.authentication.SessionAuthentication"
