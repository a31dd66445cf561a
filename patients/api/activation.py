"""The patient's app account over HTTP: staff issue an activation code, the patient activates,
staff revoke the access (``patients.activation`` does the work)."""

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import RefreshToken

from clinic.api.auth import TokenPairSerializer
from clinic.api.mixins import NoStoreMixin
from clinic.api.permissions import roles_allowed
from clinic.api.utils import validated
from clinic.models import Role
from patients import selectors, services


class ActivationCodeSerializer(serializers.Serializer):
    activation_code = serializers.CharField(
        help_text="Shown once: hand it to the patient. Only a hash of it is kept."
    )
    expires_at = serializers.DateTimeField()


class ActivateSerializer(serializers.Serializer):
    activation_code = serializers.CharField(
        max_length=64, write_only=True, help_text="As printed; spaces, dashes and case ignored."
    )
    date_of_birth = serializers.DateField(write_only=True)
    username = serializers.CharField(
        max_length=150, validators=[UnicodeUsernameValidator()], write_only=True
    )
    password = serializers.CharField(
        max_length=128, trim_whitespace=False, write_only=True, style={"input_type": "password"}
    )


class ActivationCodeIssueView(NoStoreMixin, APIView):
    """``POST patients/{id}/activation/``: a new code for the patient's app (admissions)."""

    permission_classes = [roles_allowed(read=(), write=(Role.ADMISSIONS,))]

    @extend_schema(request=None, responses={201: ActivationCodeSerializer})
    def post(self, request, pk):
        """Issue an activation code, valid `ACTIVATION_CODE_HOURS` and once; an earlier unused
        code of the patient stops working. 409 `app_account_active` when the patient already
        has an active app account."""
        patient = get_object_or_404(selectors.patients_in_reach(user=request.user), pk=pk)
        code, plain = services.activation_code_issue(actor=request.user, patient=patient)
        body = {"activation_code": plain, "expires_at": code.expires_at}
        return Response(ActivationCodeSerializer(body).data, status=status.HTTP_201_CREATED)


class AppAccessRevokeView(APIView):
    """``POST patients/{id}/app-access/revoke/``: the patient's app stops working at once."""

    permission_classes = [roles_allowed(read=(), write=(Role.ADMISSIONS, Role.SUPERVISOR))]

    @extend_schema(request=None, responses={204: None})
    def post(self, request, pk):
        """Disable the patient's app account, void all its tokens and any open activation code.
        409 `no_app_access` when there is nothing to revoke."""
        patient = get_object_or_404(selectors.patients_in_reach(user=request.user), pk=pk)
        services.patient_app_access_revoke(actor=request.user, patient=patient)
        return Response(status=status.HTTP_204_NO_CONTENT)


@method_decorator(sensitive_post_parameters("activation_code", "password"), name="dispatch")
class ActivateView(NoStoreMixin, APIView):
    """``POST auth/activate/``: the patient's app turns a code into an account and tokens."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "activation"

    @extend_schema(request=ActivateSerializer, responses={201: TokenPairSerializer})
    def post(self, request):
        """Create the patient's app account and sign in. A wrong date of birth or an unknown,
        used, expired or locked code is one and the same 400 `activation_failed`; five wrong
        dates of birth lock the code. A weak password is a 400 on `password`; a taken username
        (in any case) a 400 on `username`, said only once the code and date of birth are right."""
        user = services.patient_app_activate(**validated(ActivateSerializer, request))
        refresh = RefreshToken.for_user(user)
        body = {"access": str(refresh.access_token), "refresh": str(refresh)}
        return Response(TokenPairSerializer(body).data, status=status.HTTP_201_CREATED)
