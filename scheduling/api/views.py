"""Sessions, series, rosters and attendance. Thin: validate, call one service, render.

A program's session or series is written by ``scheduling.services``' ``program_*`` services,
which keep its program's cadence and roster through ``scheduling.program_rules``.
"""

import datetime
from collections.abc import Mapping

import django_filters
from django import forms
from django.db.models import DateField, DateTimeField, F, Func
from django.db.models.functions import Cast
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response
from rest_framework.settings import api_settings

from clinic.api.conditional import ETAG, IF_MATCH, expected_versions, with_etag
from clinic.api.mixins import NoStoreMixin
from clinic.api.pagination import UncountedPageNumberPagination
from clinic.api.permissions import roles_allowed
from clinic.api.renderers import orjson_first
from clinic.api.utils import date_or_datetime, validated
from clinic.models import AuditAction
from clinic.selectors import STAFF_ROLES
from clinic.services import audit_record_many, audit_record_rows
from scheduling import selectors, services
from scheduling.api.serializers import (
    SESSION_ROWS,
    AttendanceInputSerializer,
    RosterEntrySerializer,
    SeriesCreatedSerializer,
    SeriesCreateSerializer,
    SeriesEditSerializer,
    SeriesSerializer,
    SessionCreateSerializer,
    SessionMoveSerializer,
    SessionSerializer,
)
from scheduling.models import Attendance, Series, Session, SessionKind, SessionStatus
from scheduling.program_rules import session_note_statuses

# Clinicians and supervisors plan the calendar; the front desk (admissions) checks people in.
ATTENDANCE_ROLES = STAFF_ROLES


# Filters ------------------------------------------------------------------------------------------


class DateOrAwareDateTimeField(forms.CharField):
    """``YYYY-MM-DD`` (a day in the session's clinic zone) or an ISO datetime with an offset."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        try:
            parsed = date_or_datetime(value)
        except ValueError:
            parsed = None
        # Sessions of several clinics: a time without its offset names no instant.
        naive = isinstance(parsed, datetime.datetime) and timezone.is_naive(parsed)
        if parsed is not None and not naive:
            return parsed
        raise forms.ValidationError(
            "Give a date (YYYY-MM-DD) or an ISO datetime with its UTC offset.",
            code="invalid",
        )


@extend_schema_field(OpenApiTypes.STR)
class DateOrDateTimeFilter(django_filters.Filter):
    field_class = DateOrAwareDateTimeField

    def __init__(self, *, lower: bool, **kwargs):
        self.lower = lower
        super().__init__(**kwargs)

    def filter(self, queryset, value):
        if value is None:
            return queryset
        if isinstance(value, datetime.datetime):
            lookup = "starts_at__gte" if self.lower else "starts_at__lt"
            return queryset.filter(**{lookup: value})
        # A date is a day of the clinic's calendar: compare the session's local date.
        local_date = Cast(
            Func(
                F("clinic__time_zone"),
                F("starts_at"),
                function="timezone",
                output_field=DateTimeField(),
            ),
            DateField(),
        )
        lookup = "local_date__gte" if self.lower else "local_date__lt"
        return queryset.alias(local_date=local_date).filter(**{lookup: value})


class SessionFilterSet(django_filters.FilterSet):
    program = django_filters.NumberFilter(field_name="program")
    patient = django_filters.NumberFilter(
        field_name="roster__patient", label="Sessions with this patient on the roster"
    )
    clinician = django_filters.NumberFilter(field_name="facilitator", label="Facilitator (user id)")
    clinic = django_filters.NumberFilter(field_name="clinic")
    series = django_filters.NumberFilter(field_name="series")
    kind = django_filters.ChoiceFilter(choices=SessionKind.choices)
    status = django_filters.ChoiceFilter(choices=SessionStatus.choices)
    starts_after = DateOrDateTimeFilter(
        lower=True,
        label="Starting at or after this instant, or on or after this local date (YYYY-MM-DD)",
    )
    starts_before = DateOrDateTimeFilter(
        lower=False,
        label="Starting before this instant, or before this local date (YYYY-MM-DD)",
    )
    needs_attendance = django_filters.BooleanFilter(
        method="filter_needs_attendance",
        label="Ended, not cancelled, with someone's attendance unrecorded",
    )

    class Meta:
        model = Session
        fields = ["program", "patient", "clinician", "clinic", "series", "kind", "status"]

    def filter_needs_attendance(self, queryset, name, value):
        # Computed only when asked for (the list's page query does not select it).
        return queryset.alias(attendance_overdue=selectors.needs_attendance()).filter(
            attendance_overdue=value
        )


class SeriesFilterSet(django_filters.FilterSet):
    program = django_filters.NumberFilter(field_name="program")
    clinician = django_filters.NumberFilter(field_name="facilitator", label="Facilitator (user id)")
    clinic = django_filters.NumberFilter(field_name="clinic")
    room = django_filters.NumberFilter(field_name="room")
    kind = django_filters.ChoiceFilter(choices=SessionKind.choices)

    class Meta:
        model = Series
        fields = ["program", "clinician", "clinic", "room", "kind"]


# Sessions -----------------------------------------------------------------------------------------


SessionPatchSerializer = PolymorphicProxySerializer(
    component_name="SessionPatch",
    serializers=[SessionMoveSerializer, SeriesEditSerializer],
    resource_type_field_name=None,
)

ACTION_WRITE_ROLES = {
    "create": services.CALENDAR_WRITE_ROLES,
    "partial_update": services.CALENDAR_WRITE_ROLES,
    "cancel": services.CALENDAR_WRITE_ROLES,
    "attendance": ATTENDANCE_ROLES,
}


class SessionViewSet(NoStoreMixin, viewsets.GenericViewSet):
    """Sessions of the caller's clinics: program sessions and individual appointments.

    Reads: every staff role. Planning (create, move, series edits, cancel): clinicians and
    supervisors. Attendance: also admissions (the front desk checks people in)."""

    serializer_class = SessionSerializer
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = SessionFilterSet
    # Pages without a COUNT (page_size + 1 rows say whether there is a next one), JSON by orjson.
    pagination_class = UncountedPageNumberPagination
    renderer_classes = orjson_first(api_settings.DEFAULT_RENDERER_CLASSES)
    ordering_fields = ["starts_at", "id"]
    ordering = ["starts_at", "id"]

    def get_permissions(self):
        return [roles_allowed(read=STAFF_ROLES, write=ACTION_WRITE_ROLES.get(self.action, ()))()]

    def get_queryset(self):
        return selectors.session_list(user=self.request.user)

    def _fresh(self, session) -> Session:
        """The session as the list shows it (with its annotations)."""
        return self.get_queryset().get(pk=session.pk)

    def _patient_filter(self) -> int | None:
        try:
            return int(self.request.query_params["patient"])
        except (KeyError, ValueError):
            return None

    def list(self, request):
        # The page's ids through the filters and ordering, its rows (SessionSerializer's fields,
        # SESSION_ROWS) read off them in the same query.
        ids = self.filter_queryset(selectors.session_list_for_page(user=request.user))
        page = selectors.SessionPage(ids.values_list("id", flat=True))
        items = SESSION_ROWS.items(self.paginate_queryset(page))
        patient_id = self._patient_filter()
        if patient_id is not None:
            # Whose sessions these are is patient data (42 CFR Part 2): audit the page.
            audit_record_rows(
                actor=request.user,
                action=AuditAction.LIST,
                object_type=Session._meta.label_lower,
                rows=[(item["id"], item["clinic"], patient_id) for item in items],
            )
        return self.get_paginated_response(items)

    @extend_schema(parameters=[ETAG])
    def retrieve(self, request, pk=None):
        session = self.get_object()
        return with_etag(Response(self.get_serializer(session).data), session)

    @extend_schema(
        request=SessionCreateSerializer, responses={201: SessionSerializer}, parameters=[ETAG]
    )
    def create(self, request):
        """A one-off session. An individual appointment names its patient (and its clinician:
        the caller when left out); a program session's roster is the program's patients
        enrolled on its date."""
        data = validated(SessionCreateSerializer, request)
        if data["kind"] == SessionKind.INDIVIDUAL and data["facilitator"] is None:
            data["facilitator"] = request.user
        session = self._fresh(services.program_session_create(actor=request.user, **data))
        return with_etag(
            Response(self.get_serializer(session).data, status=status.HTTP_201_CREATED), session
        )

    @extend_schema(
        request=SessionPatchSerializer, responses=SessionSerializer, parameters=[IF_MATCH, ETAG]
    )
    def partial_update(self, request, pk=None):
        """Move this session (`starts_at`, `ends_at`, `location`, `room`), or, with `scope`
        (`this`, `following`, `all`), edit its series' occurrences (`local_start_time`,
        `duration_minutes`, `location`, `title`, and for `following`/`all` `weekdays`): past
        and individually moved occurrences keep theirs. A program session must keep its
        program's session length and weekly maximum (400 naming the rule and the ISO week)."""
        session = self.get_object()
        versions = expected_versions(request, session)
        # A body that is not an object (null, a list) is the move serializer's 400.
        if isinstance(request.data, Mapping) and "scope" in request.data:
            data = validated(SeriesEditSerializer, request)
            services.program_series_edit(
                actor=request.user, session=session, expected_versions=versions, **data
            )
            return self._edited(session)
        data = validated(SessionMoveSerializer, request)
        room = data.get("room")
        if room is not None and room.clinic_id != session.clinic_id:
            raise serializers.ValidationError({"room": ["Choose a room of the session's clinic."]})
        starts_at = data.get("starts_at", session.starts_at)
        # Moving only the start keeps the length.
        default_end = session.ends_at + (starts_at - session.starts_at)
        services.program_session_move(
            actor=request.user,
            session=session,
            starts_at=starts_at,
            ends_at=data.get("ends_at", default_end),
            location=data.get("location"),
            room=room,
            expected_versions=versions,
        )
        return self._edited(session)

    def _edited(self, session):
        session = self._fresh(session)
        return with_etag(Response(self.get_serializer(session).data), session)

    @extend_schema(request=None, responses=SessionSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel this one session (a cancelled or completed one: 409)."""
        session = services.session_cancel(actor=request.user, session=self.get_object())
        return Response(self.get_serializer(self._fresh(session)).data)

    @extend_schema(methods=["GET"], responses=RosterEntrySerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=AttendanceInputSerializer,
        responses={200: RosterEntrySerializer, 201: RosterEntrySerializer},
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def attendance(self, request, pk=None):
        """GET: the roster with each patient's answer and attendance. POST records (201) or
        corrects (200) one rostered patient's attendance: `present`, `late` and `absent` from an
        hour before the start (else 409 `session_not_started`), `excused` at any time (a patient
        who calls ahead; their pending reminders of the session are cancelled)."""
        session = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(selectors.roster_for(session))
            audit_record_many(
                actor=request.user,
                action=AuditAction.LIST,
                objects=page,
                patient_id_of=lambda entry: entry.patient_id,
                clinic_id_of=lambda entry: session.clinic_id,
            )
            notes = session_note_statuses(session, user=request.user)
            return self.get_paginated_response(
                RosterEntrySerializer(page, many=True, context={"notes": notes}).data
            )
        data = validated(AttendanceInputSerializer, request)
        existed = Attendance.objects.filter(session=session, patient=data["patient"]).exists()
        services.attendance_record(actor=request.user, session=session, **data)
        entry = selectors.roster_for(session).get(patient=data["patient"])
        notes = session_note_statuses(session, user=request.user)
        return Response(
            RosterEntrySerializer(entry, context={"notes": notes}).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


# Series -------------------------------------------------------------------------------------------


class SeriesViewSet(viewsets.GenericViewSet):
    """Weekly series of the caller's clinics; creating one creates its sessions up to the
    scheduling horizon (a program's series after checking the program's rules)."""

    serializer_class = SeriesSerializer
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = SeriesFilterSet
    ordering_fields = ["title", "starts_on", "id"]
    ordering = ["title", "id"]

    def get_permissions(self):
        write = services.CALENDAR_WRITE_ROLES if self.action == "create" else ()
        return [roles_allowed(read=STAFF_ROLES, write=write)()]

    def get_queryset(self):
        return selectors.series_list(user=self.request.user)

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=SeriesCreateSerializer, responses={201: SeriesCreatedSerializer})
    def create(self, request):
        data = validated(SeriesCreateSerializer, request)
        clinic, program = data.pop("clinic"), data.pop("program")
        series, sessions = services.series_create_and_expand(
            actor=request.user, clinic=clinic, program=program, **data
        )
        series = self.get_queryset().get(pk=series.pk)
        series.sessions_created = len(sessions)
        return Response(SeriesCreatedSerializer(series).data, status=status.HTTP_201_CREATED)
