"""The patient's schedule and calendar feeds (API.md "The patient's app").

``/api/v1/me/...`` serves the patient's app account only (``IsPatient``); every queryset here
starts from ``request.user.patient``, so a patient can reach nothing but their own roster.
Staff get their own facilitated sessions' feed at ``/api/v1/calendar-feed/``. The feed itself
(``/calendar/<token>.ics``) is public: calendar apps cannot log in, the token is the key.
"""

import datetime

from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from clinic.api.errors import GENERIC_DETAILS, error_body
from clinic.api.mixins import NoStoreMixin, PatientDataMixin, never_cache_privately
from clinic.api.pagination import UncountedPageNumberPagination
from clinic.api.patient_permissions import IsPatient, patient_access_check
from clinic.api.permissions import IsStaff
from clinic.api.renderers import orjson_first
from clinic.api.rows import SerializerRows
from clinic.api.utils import date_or_datetime
from clinic.errors import ServiceError
from clinic.models import AuditAction
from clinic.services import audit_record, audit_record_rows
from scheduling import feeds, selectors, services
from scheduling.models import (
    TOKEN_MAX_LENGTH,
    Device,
    RosterEntry,
    RosterResponse,
    SessionKind,
    SessionStatus,
)

DEFAULT_SPAN = datetime.timedelta(days=14)
MAX_SPAN = datetime.timedelta(days=92)


# Serializers --------------------------------------------------------------------------------------


class ScheduleItemSerializer(serializers.Serializer):
    """One session of the patient's schedule (a roster entry, seen from the patient)."""

    id = serializers.IntegerField(source="session.id", help_text="The session's id.")
    title = serializers.CharField(source="session.title")
    kind = serializers.ChoiceField(source="session.kind", choices=SessionKind.choices)
    starts_at = serializers.DateTimeField(source="session.starts_at")
    ends_at = serializers.DateTimeField(source="session.ends_at")
    location = serializers.CharField(source="session.location")
    status = serializers.ChoiceField(
        source="session.status",
        choices=SessionStatus.choices,
        help_text="Cancelled sessions stay on the schedule so that the app can show them.",
    )
    response = serializers.ChoiceField(choices=RosterResponse.choices)
    responded_at = serializers.DateTimeField(allow_null=True)


# The list reads ScheduleItemSerializer's fields as columns.
SCHEDULE_ROWS = SerializerRows(ScheduleItemSerializer)


@extend_schema_field(OpenApiTypes.STR)
class DateOrDateTimeField(serializers.Field):
    """``YYYY-MM-DD`` or an ISO 8601 date-time (read in the clinic's zone when it has no offset).

    A date is kept as a date: as a start it means the beginning of that local day, as an end the
    end of it (inclusive).
    """

    default_error_messages = {
        "invalid": "Use a date (YYYY-MM-DD) or an ISO 8601 date-time (2026-12-01T09:00:00Z)."
    }

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return date_or_datetime(data)
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value):
        return value.isoformat()


def _instant(value, zone, *, is_end: bool) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=zone)
    day = value + datetime.timedelta(days=1) if is_end else value
    return datetime.datetime.combine(day, datetime.time(), tzinfo=zone)


def _window(start, end, zone) -> dict:
    """The [start, end) instants of parsed ``start``/``end`` values (None when not given).
    Raises ``ValidationError`` with the range's field messages."""
    try:
        start = timezone.now() if start is None else _instant(start, zone, is_end=False)
        end = start + DEFAULT_SPAN if end is None else _instant(end, zone, is_end=True)
    except OverflowError:
        # A range reaching past the last day Python can count (9999-12-31).
        raise serializers.ValidationError(
            {"end": ["The range must end before the year 10000."]}
        ) from None
    if end <= start:
        raise serializers.ValidationError({"end": ["The end must come after the start."]})
    if end - start > MAX_SPAN:
        raise serializers.ValidationError(
            {"end": [f"The range spans at most {MAX_SPAN.days} days."]}
        )
    return {"start": start, "end": end}


class ScheduleQuerySerializer(serializers.Serializer):
    start = DateOrDateTimeField(required=False)
    end = DateOrDateTimeField(required=False)

    def validate(self, attrs):
        return _window(attrs.get("start"), attrs.get("end"), self.context["zone"])


_PARAMETER = DateOrDateTimeField()


def schedule_window(params, zone) -> dict:
    """``ScheduleQuerySerializer(data=params, context={"zone": zone})``'s validated data without
    building a serializer per request: its field parses each value, the same ``_window`` makes
    the range. Anything it refuses goes through the serializer itself, which raises the 400 with
    the same field messages as before."""
    try:
        # As the serializer reads a query string: the last value, an empty one as absent.
        start = params.get("start") or None
        end = params.get("end") or None
        return _window(
            None if start is None else _PARAMETER.to_internal_value(start),
            None if end is None else _PARAMETER.to_internal_value(end),
            zone,
        )
    except serializers.ValidationError:
        query = ScheduleQuerySerializer(data=params, context={"zone": zone})
        query.is_valid(raise_exception=True)
        return query.validated_data


class CalendarFeedUrlSerializer(serializers.Serializer):
    url = serializers.URLField(
        help_text="The private iCal URL. Keep it private; rotate to get a new URL (the old one "
        "stops working at once)."
    )


# The patient's schedule ---------------------------------------------------------------------------

SCHEDULE_PARAMETERS = [
    OpenApiParameter(
        "start",
        OpenApiTypes.STR,
        description="YYYY-MM-DD (the start of that day in the clinic's zone) or an ISO "
        "date-time. Default: now.",
    ),
    OpenApiParameter(
        "end",
        OpenApiTypes.STR,
        description="YYYY-MM-DD (inclusive: the end of that day in the clinic's zone) or an "
        "ISO date-time. Default: 14 days after the start; at most 92 days after it.",
    ),
]


@extend_schema(parameters=SCHEDULE_PARAMETERS)
class MyScheduleView(PatientDataMixin, generics.ListAPIView):
    """The patient's sessions overlapping the range, cancelled ones included, oldest first."""

    permission_classes = [IsPatient]
    serializer_class = ScheduleItemSerializer
    filter_backends = []
    pagination_class = UncountedPageNumberPagination
    renderer_classes = orjson_first(api_settings.DEFAULT_RENDERER_CLASSES)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RosterEntry.objects.none()
        patient = self.request.user.patient
        window = schedule_window(self.request.query_params, patient.clinic.zone)
        return selectors.schedule_entries(patient=patient, **window)

    def audit_clinic_id(self, obj):
        return obj.session.clinic_id

    def list(self, request, *args, **kwargs):
        # Rows, not instances: ScheduleItemSerializer's fields read as columns, then the roster
        # entry's id and clinic for the page's audit rows.
        entries = SCHEDULE_ROWS.values_list(self.get_queryset(), "id", "session__clinic_id")
        rows = self.paginate_queryset(entries)
        patient_id = request.user.patient.pk
        audit_record_rows(
            actor=request.user,
            action=AuditAction.LIST,
            object_type=RosterEntry._meta.label_lower,
            rows=[(row[-2], row[-1], patient_id) for row in rows],
        )
        return self.get_paginated_response(SCHEDULE_ROWS.items(rows))


class MySessionRespondView(NoStoreMixin, APIView):
    """Confirm or decline a future session of the patient's own schedule."""

    permission_classes = [IsPatient]
    # Set per URL: ``as_view(answer=...)``.
    answer = RosterResponse.CONFIRMED

    @extend_schema(request=None, responses=ScheduleItemSerializer)
    def post(self, request, pk):
        patient = request.user.patient
        entry = generics.get_object_or_404(
            RosterEntry.objects.select_related("session"), patient=patient, session_id=pk
        )
        session = entry.session
        entry = services.session_respond(
            actor=request.user, session=session, patient=patient, response=self.answer
        )
        entry.session = session
        return Response(ScheduleItemSerializer(entry).data)


# Devices (push) -----------------------------------------------------------------------------------


class DeviceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Device
        fields = ["id", "platform", "token", "created_at", "last_seen_at"]
        read_only_fields = ["id", "created_at", "last_seen_at"]
        extra_kwargs = {
            # The token's uniqueness is the service's business (a known token moves over).
            "token": {"validators": [], "max_length": TOKEN_MAX_LENGTH, "write_only": True},
        }


class MyDevicesView(NoStoreMixin, APIView):
    """Register the phone the app runs on for push reminders (``{"platform", "token"}``).
    Registering a known token again refreshes it: 200 instead of 201."""

    permission_classes = [IsPatient]

    @extend_schema(
        request=DeviceSerializer, responses={201: DeviceSerializer, 200: DeviceSerializer}
    )
    def post(self, request):
        serializer = DeviceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        device, created = services.device_register(
            actor=request.user, patient=request.user.patient, **serializer.validated_data
        )
        return Response(DeviceSerializer(device).data, status=201 if created else 200)


class MyDeviceView(NoStoreMixin, APIView):
    """Forget one of the patient's devices (the app signs out): no more push to it."""

    permission_classes = [IsPatient]

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk):
        device = generics.get_object_or_404(Device, pk=pk, patient=request.user.patient)
        services.device_forget(actor=request.user, device=device)
        return Response(status=204)


# Calendar feeds -----------------------------------------------------------------------------------


def _feed_url(request, token: str) -> str:
    return request.build_absolute_uri(reverse("calendar-feed-ics", kwargs={"token": token}))


class MyCalendarFeedView(NoStoreMixin, APIView):
    """The patient's private iCal feed (created on the first GET)."""

    permission_classes = [IsPatient]

    @extend_schema(responses=CalendarFeedUrlSerializer)
    def get(self, request):
        _feed, token = services.calendar_feed_for(patient=request.user.patient, actor=request.user)
        return Response({"url": _feed_url(request, token)})


class MyCalendarFeedRotateView(NoStoreMixin, APIView):
    """A new URL for the patient's feed; the old one stops working at once."""

    permission_classes = [IsPatient]

    @extend_schema(request=None, responses=CalendarFeedUrlSerializer)
    def post(self, request):
        _feed, token = services.calendar_feed_rotate(
            patient=request.user.patient, actor=request.user
        )
        return Response({"url": _feed_url(request, token)})


class StaffCalendarFeedView(NoStoreMixin, APIView):
    """The caller's private iCal feed of the sessions they facilitate (created on first GET)."""

    permission_classes = [IsStaff]

    @extend_schema(responses=CalendarFeedUrlSerializer)
    def get(self, request):
        _feed, token = services.calendar_feed_for(user=request.user, actor=request.user)
        return Response({"url": _feed_url(request, token)})


class StaffCalendarFeedRotateView(NoStoreMixin, APIView):
    """A new URL for the caller's feed; the old one stops working at once."""

    permission_classes = [IsStaff]

    @extend_schema(request=None, responses=CalendarFeedUrlSerializer)
    def post(self, request):
        _feed, token = services.calendar_feed_rotate(user=request.user, actor=request.user)
        return Response({"url": _feed_url(request, token)})


@require_safe
def calendar_feed_ics(request, token: str):
    """``GET /calendar/<token>.ics``: the token is the only credential (calendar apps cannot
    log in). Not a DRF view, so no session or JWT is looked at; outside the OpenAPI schema."""
    feed = selectors.calendar_feed_by_token(token)
    refusal = None
    if feed is not None and feed.patient_id is not None:
        try:
            patient_access_check(feed.patient)
        except ServiceError as error:
            refusal = error
    if feed is None:
        response = JsonResponse(error_body("not_found", GENERIC_DETAILS[404]), status=404)
    elif refusal is not None:
        # An alumnus past their access: the feed closes with the app.
        response = JsonResponse(
            {**error_body(refusal.code, str(refusal)), **refusal.extra},
            status=refusal.status_code,
        )
    else:
        response = HttpResponse(
            feeds.build_calendar(feed), content_type="text/calendar; charset=utf-8"
        )
        audit_record(actor=None, action=AuditAction.READ, obj=feed, patient=feed.patient)
    return never_cache_privately(response)
