"""The SMS provider's inbound-message webhook: a patient texting ``STOP`` opts out of SMS, and
``START`` (or ``UNSTOP``, ``YES``) after a STOP opts back in.

Public (the provider cannot log in) but signed: a request whose signature does not verify with
``SMS_AUTH_TOKEN`` is refused with 403 and changes nothing. The answer is an empty TwiML
document, so the provider sends no reply of ours (it confirms the opt-out and opt-in itself).

Signed requests are not throttled: the provider relays every reply as it comes, so a burst of
STOPs from many patients (after a bulk message) arrives from a few of its addresses at once, and
a 429 there would lose opt-outs. Unsigned ones count against the anonymous rate, as anywhere.
"""

import logging

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from clinic.api.schema import ErrorSerializer
from clinic.notifications import webhooks
from patients import services

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def signed_by_provider(request) -> bool:
    """Whether the provider signed this request (checked once per request)."""
    if not hasattr(request, "_sms_signed"):
        request._sms_signed = webhooks.verify_sms_signature(
            url=request.build_absolute_uri(),
            params=request.data,
            signature=request.headers.get("X-Twilio-Signature", ""),
            auth_token=settings.SMS_AUTH_TOKEN,
        )
    return request._sms_signed


class UnsignedRequestThrottle(AnonRateThrottle):
    """The anonymous rate, for requests the provider did not sign only."""

    def allow_request(self, request, view):
        return signed_by_provider(request) or super().allow_request(request, view)


class InboundSmsWebhookView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser]
    throttle_classes = [UnsignedRequestThrottle]

    @extend_schema(
        request={"application/x-www-form-urlencoded": OpenApiTypes.OBJECT},
        responses={(200, "application/xml"): OpenApiTypes.STR, 403: ErrorSerializer},
        description="Inbound SMS from the provider (form fields `From`, `Body`; signed in "
        "`X-Twilio-Signature`). `STOP` and its synonyms remove SMS from the sender's reminder "
        "channels; `START`, `UNSTOP` or `YES` give it back where a STOP took it away (and "
        "nothing changed the channels since), planning SMS reminders for the sessions already "
        "on the schedule.",
    )
    def post(self, request):
        params = request.data
        if not signed_by_provider(request):
            raise PermissionDenied("The request's signature does not verify.")
        try:
            sender, body = webhooks.parse_inbound_sms(params)
        except ValueError as error:
            raise ValidationError({"From": [str(error)]}) from None
        if webhooks.is_opt_out(body):
            changed = services.patient_sms_opt_out(phone=sender)
            # A count only: the number and the text are patient data.
            logger.info("Inbound SMS opt-out applied to %d patient record(s).", len(changed))
        elif webhooks.is_opt_in(body):
            changed = services.patient_sms_opt_in(phone=sender)
            logger.info("Inbound SMS opt-in applied to %d patient record(s).", len(changed))
        return HttpResponse(EMPTY_TWIML, content_type="application/xml")
