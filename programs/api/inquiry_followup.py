"""Following up an inquiry over HTTP (issue 28, item 5): the messages asking the caller to call
the clinic back. Thin: validate, call one service, render.

Every staff role of the inquiry's clinic reads them; admissions ask (the inquiry's write
roles). Another clinic's inquiry is a 404; each read is audited (the list: one row per request
on the page). The message itself is never shown here: it is the clinic's public name asking for
a call, and nothing else (``programs.services.inquiry_followup``).
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from clinic.api.mixins import PatientDataMixin
from clinic.api.permissions import roles_allowed
from clinic.api.utils import validated
from clinic.selectors import STAFF_ROLES
from programs import selectors
from programs.models import CallbackRequest, Inquiry
from programs.services import inquiry_followup as services
from programs.services.inquiries import INQUIRY_WRITE_ROLES


class CallbackRequestSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)

    class Meta:
        model = CallbackRequest
        fields = [
            "id",
            "inquiry",
            "channel",
            "to",
            "status",
            "due_at",
            "attempts",
            "sent_at",
            "last_error",
            "requested_by",
            "requested_at",
        ]
        read_only_fields = fields


class CallbackRequestCreateSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(
        choices=services.CALLBACK_CHANNELS,
        required=False,
        allow_null=True,
        default=None,
        help_text="Default: the inquiry's callback method (a phone call: a text message to "
        "that phone).",
    )


class InquiryCallbackRequestsView(PatientDataMixin, generics.ListAPIView):
    """The messages that asked an inquiry's caller to call back, newest first, with how each
    went out; a new one."""

    permission_classes = [roles_allowed(read=STAFF_ROLES, write=INQUIRY_WRITE_ROLES)]
    serializer_class = CallbackRequestSerializer
    filter_backends = []

    def audit_patient_id(self, obj):
        return obj.inquiry.patient_id

    def audit_clinic_id(self, obj):
        return obj.inquiry.clinic_id

    def _inquiry(self) -> Inquiry:
        return get_object_or_404(
            selectors.inquiry_list(user=self.request.user).select_related("clinic"),
            pk=self.kwargs["pk"],
        )

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CallbackRequest.objects.none()
        return selectors.callback_request_list(inquiry=self._inquiry())

    @extend_schema(
        request=CallbackRequestCreateSerializer,
        responses={201: CallbackRequestSerializer},
        description="Queue a message from the clinic's public name asking the caller to call "
        "back (sent by beat, once). 409 `invalid_state` for a closed inquiry, "
        "`no_callback_consent` when the caller has not agreed to be called back, "
        "`no_callback_address` without an address for the channel, `callback_pending` while an "
        "earlier request waits to go out.",
    )
    def post(self, request, pk=None):
        callback = services.callback_request(
            actor=request.user,
            inquiry=self._inquiry(),
            **validated(CallbackRequestCreateSerializer, request),
        )
        return Response(CallbackRequestSerializer(callback).data, status=status.HTTP_201_CREATED)
