"""Measurement-based care (issue 24): the patient's check-ins in the app (``me/measures/``) and
the staff's responses, orders and schedules. Thin: validate, call one service, render.

A response is Part 2 data: staff see those of their clinics' patients (another clinic's is a
404), every read is audited, a list with one row per response on the page. Every staff role
reads; clinicians and supervisors record and order; supervisors set a program's schedules. The
patient's app reads their own history (scores and bands, never the answers or the items' texts)
and what is due now with its questions, and answers what is theirs to answer.
"""

from django.utils import timezone
from django_filters import rest_framework as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from clinic.api.conditional import ETAG, IF_MATCH, expected_versions, with_etag
from clinic.api.mixins import PatientDataMixin
from clinic.api.patient_permissions import IsPatient
from clinic.api.permissions import roles_allowed
from clinic.api.utils import validated
from clinic.selectors import STAFF_ROLES
from patients.api.serializers import CallerScopedPrimaryKeyField, patients_of_caller
from patients.instruments import INSTRUMENT_CHOICES, INSTRUMENTS
from programs import selectors
from programs.models import (
    MeasureOrder,
    MeasureResponse,
    MeasureSchedule,
)
from programs.services import measures as services

ANSWERS_HELP = 'Item key → the value chosen, e.g. {"1": 0, "2": 3}; keys are the items\' `key`.'


def band_label(response: MeasureResponse) -> str:
    """The band's label as the instrument names it ("" without a band)."""
    for band in INSTRUMENTS[response.instrument].bands:
        if band.key == response.band:
            return band.label
    return ""


# Output -------------------------------------------------------------------------------------------


class MeasureResponseSerializer(serializers.ModelSerializer):
    """A response as staff read it: the answers as given and their score."""

    name = serializers.SerializerMethodField()
    band_label = serializers.SerializerMethodField()
    answers = serializers.DictField(child=serializers.IntegerField(), help_text=ANSWERS_HELP)
    subscales = serializers.DictField(child=serializers.IntegerField())
    safety_flags = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = MeasureResponse
        fields = [
            "id",
            "patient",
            "enrollment",
            "instrument",
            "name",
            "answers",
            "total",
            "band",
            "band_label",
            "subscales",
            "safety_flags",
            "severe",
            "source",
            "recorded_by",
            "completed_at",
            "alert",
        ]
        read_only_fields = fields

    def get_name(self, response) -> str:
        return INSTRUMENTS[response.instrument].name

    def get_band_label(self, response) -> str:
        return band_label(response)


class MyMeasureSerializer(serializers.ModelSerializer):
    """A response in the patient's history: the score, never the answers."""

    name = serializers.SerializerMethodField()
    band_label = serializers.SerializerMethodField()
    subscales = serializers.DictField(child=serializers.IntegerField())

    class Meta:
        model = MeasureResponse
        fields = ["id", "instrument", "name", "completed_at", "total", "band", "band_label"]
        fields += ["subscales"]
        read_only_fields = fields

    def get_name(self, response) -> str:
        return INSTRUMENTS[response.instrument].name

    def get_band_label(self, response) -> str:
        return band_label(response)


class MyMeasureOptionSerializer(serializers.Serializer):
    value = serializers.IntegerField()
    label = serializers.CharField()


class MyMeasureItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    text = serializers.CharField()
    options = MyMeasureOptionSerializer(many=True)


class MyDueMeasureSerializer(serializers.Serializer):
    """A measure due now, with what the app needs to ask it."""

    instrument = serializers.ChoiceField(choices=INSTRUMENT_CHOICES)
    name = serializers.CharField()
    instructions = serializers.CharField()
    period = serializers.CharField(help_text="The time the questions ask about.")
    due_on = serializers.DateField(help_text="The clinic's date it fell due.")
    items = MyMeasureItemSerializer(many=True)


def due_for_app(measure) -> dict:
    definition = INSTRUMENTS[measure.instrument]
    return {
        "instrument": measure.instrument,
        "name": definition.name,
        "instructions": definition.instructions,
        "period": definition.period,
        "due_on": measure.due_on,
        "items": [
            {
                "key": item.key,
                "text": item.text,
                "options": [{"value": o.value, "label": o.label} for o in item.options],
            }
            for item in definition.items
        ],
    }


# The whole page (not a page of these): the history's page with ``due`` beside it.
@extend_schema_serializer(many=False, component_name="PaginatedMyMeasureList")
class MyMeasuresPageSerializer(serializers.Serializer):
    """The schema of ``GET me/measures/``: a page of the history, and what is due now."""

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = MyMeasureSerializer(many=True)
    due = MyDueMeasureSerializer(
        many=True, help_text="The measures the patient's stay asks of them now (every page)."
    )


class MyMeasureResultSerializer(serializers.ModelSerializer):
    """What the app shows once a measure is answered; ``crisis_text`` when it was flagged."""

    band_label = serializers.SerializerMethodField()
    subscales = serializers.DictField(child=serializers.IntegerField())
    safety = serializers.SerializerMethodField(
        help_text="The answers call for follow-up (a safety item, a severe band): show "
        "`crisis_text` at once; the care team is alerted."
    )
    crisis_text = serializers.SerializerMethodField(
        help_text="The clinic's crisis text when `safety`; null otherwise."
    )

    class Meta:
        model = MeasureResponse
        fields = ["id", "instrument", "total", "band", "band_label", "subscales"]
        fields += ["completed_at", "safety", "crisis_text"]
        read_only_fields = fields

    def get_band_label(self, response) -> str:
        return band_label(response)

    def get_safety(self, response) -> bool:
        return bool(response.safety_flags) or response.severe

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_crisis_text(self, response):
        if not self.get_safety(response):
            return None
        return response.patient.clinic.crisis_text


class MeasureOrderSerializer(serializers.ModelSerializer):
    running = serializers.SerializerMethodField()

    class Meta:
        model = MeasureOrder
        fields = ["id", "enrollment", "instrument", "every_hours", "ordered_by", "ordered_at"]
        fields += ["stopped_by", "stopped_at", "running"]
        read_only_fields = fields

    def get_running(self, order) -> bool:
        return order.stopped_at is None


class MeasureScheduleSerializer(serializers.ModelSerializer):
    class Meta:
        model = MeasureSchedule
        fields = ["id", "program", "instrument", "at_admission", "every_days", "at_discharge"]
        fields += ["by_order"]
        read_only_fields = fields


# Input --------------------------------------------------------------------------------------------


class MyMeasureCreateSerializer(serializers.Serializer):
    instrument = serializers.ChoiceField(choices=INSTRUMENT_CHOICES)
    answers = serializers.DictField(help_text=ANSWERS_HELP)
    submission_key = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="The app's key for this submission: a retry with it returns the first "
        "response (200) instead of recording it twice.",
    )


class MeasureCreateSerializer(serializers.Serializer):
    patient = CallerScopedPrimaryKeyField(scope=patients_of_caller)
    instrument = serializers.ChoiceField(choices=INSTRUMENT_CHOICES)
    answers = serializers.DictField(help_text=ANSWERS_HELP)
    completed_at = serializers.DateTimeField(required=False, help_text="Default: now.")


def _enrollments_of_caller(user):
    return selectors.enrollment_list(user=user)


def _programs_of_caller(user):
    return selectors.program_list(user=user)


class MeasureOrderCreateSerializer(serializers.Serializer):
    enrollment = CallerScopedPrimaryKeyField(scope=_enrollments_of_caller)
    instrument = serializers.ChoiceField(
        choices=INSTRUMENT_CHOICES, help_text="A clinician-rated one: ciwa_ar or cows."
    )
    every_hours = serializers.IntegerField(min_value=1, max_value=24)


class MeasureScheduleWhenSerializer(serializers.Serializer):
    at_admission = serializers.BooleanField(required=False, default=False)
    every_days = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=365
    )
    at_discharge = serializers.BooleanField(required=False, default=False)
    by_order = serializers.BooleanField(required=False, default=False)


class MeasureScheduleCreateSerializer(MeasureScheduleWhenSerializer):
    program = CallerScopedPrimaryKeyField(scope=_programs_of_caller)
    instrument = serializers.ChoiceField(choices=INSTRUMENT_CHOICES)


class MeasureScheduleUpdateSerializer(MeasureScheduleWhenSerializer):
    """The fields to change; the others keep their values."""

    at_admission = serializers.BooleanField(required=False)
    every_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=365
    )
    at_discharge = serializers.BooleanField(required=False)
    by_order = serializers.BooleanField(required=False)


# Filters ------------------------------------------------------------------------------------------


class MeasureResponseFilterSet(filters.FilterSet):
    patient = filters.NumberFilter()
    instrument = filters.ChoiceFilter(choices=INSTRUMENT_CHOICES)

    class Meta:
        model = MeasureResponse
        fields = ["patient", "instrument"]


class MeasureOrderFilterSet(filters.FilterSet):
    enrollment = filters.NumberFilter()

    class Meta:
        model = MeasureOrder
        fields = ["enrollment"]


class MeasureScheduleFilterSet(filters.FilterSet):
    program = filters.NumberFilter()

    class Meta:
        model = MeasureSchedule
        fields = ["program"]


# The patient's app --------------------------------------------------------------------------------


class MyMeasuresView(PatientDataMixin, generics.ListAPIView):
    """The patient's measures: their history, what is due now, and a new response."""

    permission_classes = [IsPatient]
    serializer_class = MyMeasureSerializer
    filter_backends = []
    throttle_scope = "checkin"

    def get_throttles(self):
        # New responses count against the check-ins' rate (THROTTLE_CHECKIN); reading does not.
        throttles = super().get_throttles()
        if self.request.method == "POST":
            throttles.append(ScopedRateThrottle())
        return throttles

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return MeasureResponse.objects.none()
        return selectors.measure_response_list_of_patient(patient=self.request.user.patient)

    def audit_clinic_id(self, obj):
        return self.request.user.patient.clinic_id

    @extend_schema(
        description="The patient's responses, newest first (scores and bands, never the "
        "answers), and `due`: the measures their stay asks of them now, with the questions.",
        responses=MyMeasuresPageSerializer,
    )
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        due = selectors.measures_due_of_patient(patient=request.user.patient, now=timezone.now())
        response.data["due"] = MyDueMeasureSerializer(
            [due_for_app(measure) for measure in due], many=True
        ).data
        return response

    @extend_schema(
        description="Answer a measure (`instrument`, `answers`; `submission_key` makes a retry "
        "safe: 200 with the first response). 400 names each bad item (`answers.<key>`); 403 "
        "`clinician_rated` for an instrument a clinician rates. A flagged response carries "
        "`safety: true` and the clinic's `crisis_text`, and alerts the care team once.",
        request=MyMeasureCreateSerializer,
        responses={201: MyMeasureResultSerializer, 200: MyMeasureResultSerializer},
    )
    def post(self, request):
        data = validated(MyMeasureCreateSerializer, request)
        measure, created = services.measure_record(
            actor=request.user, patient=request.user.patient, **data
        )
        return Response(
            MyMeasureResultSerializer(measure).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


# Staff --------------------------------------------------------------------------------------------


class MeasureResponseViewSet(
    PatientDataMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Responses of the caller's clinics' patients, newest first; clinicians and supervisors
    record one (any instrument)."""

    permission_classes = [roles_allowed(read=STAFF_ROLES, write=services.MEASURE_RECORD_ROLES)]
    serializer_class = MeasureResponseSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = MeasureResponseFilterSet

    def get_queryset(self):
        return selectors.measure_response_list(user=self.request.user)

    @extend_schema(
        description="Record a measure for a patient: 400 names each bad item "
        "(`answers.<key>`); a flagged one alerts the primary clinician and the supervisors.",
        request=MeasureCreateSerializer,
        responses={201: MeasureResponseSerializer},
    )
    def create(self, request):
        data = validated(MeasureCreateSerializer, request)
        measure, _created = services.measure_record(actor=request.user, **data)
        return self.response_for(measure, status=status.HTTP_201_CREATED)


class MeasureOrderViewSet(
    PatientDataMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Clinicians' orders of CIWA-Ar and COWS in stays of the caller's clinics, newest first."""

    permission_classes = [roles_allowed(read=STAFF_ROLES, write=services.MEASURE_ORDER_ROLES)]
    serializer_class = MeasureOrderSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = MeasureOrderFilterSet

    def get_queryset(self):
        return selectors.measure_order_list(user=self.request.user)

    def audit_patient_id(self, obj):
        return obj.enrollment.patient_id

    def audit_clinic_id(self, obj):
        return obj.enrollment.program.clinic_id

    @extend_schema(
        description="Order CIWA-Ar or COWS every 1 to 24 hours in an admitted stay (due at "
        "once); 409 `order_running` while one runs, `invalid_state` for a stay not admitted.",
        request=MeasureOrderCreateSerializer,
        responses={201: MeasureOrderSerializer},
    )
    def create(self, request):
        data = validated(MeasureOrderCreateSerializer, request)
        order = services.measure_order_start(actor=request.user, **data)
        return self.response_for(order, status=status.HTTP_201_CREATED)

    @extend_schema(
        description="Stop a running order; 409 `invalid_state` when it was stopped.",
        request=None,
        responses=MeasureOrderSerializer,
    )
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        order = services.measure_order_stop(actor=request.user, order=self.get_object())
        return self.response_for(order)


class MeasureScheduleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """When each program of the caller's clinics measures its patients; supervisors set it."""

    permission_classes = [roles_allowed(read=STAFF_ROLES, write=services.MEASURE_SCHEDULE_ROLES)]
    serializer_class = MeasureScheduleSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = MeasureScheduleFilterSet

    def get_queryset(self):
        return selectors.measure_schedule_list(user=self.request.user)

    @extend_schema(
        description="Schedule an instrument in a program; 409 `schedule_exists` when it has "
        "one; 400 for a schedule that never falls due.",
        request=MeasureScheduleCreateSerializer,
        responses={201: MeasureScheduleSerializer},
        parameters=[ETAG],
    )
    def create(self, request):
        data = validated(MeasureScheduleCreateSerializer, request)
        schedule = services.measure_schedule_save(actor=request.user, **data)
        return with_etag(
            Response(MeasureScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED),
            schedule,
        )

    @extend_schema(responses=MeasureScheduleSerializer, parameters=[ETAG])
    def retrieve(self, request, pk=None):
        schedule = self.get_object()
        return with_etag(Response(MeasureScheduleSerializer(schedule).data), schedule)

    @extend_schema(
        request=MeasureScheduleUpdateSerializer,
        responses=MeasureScheduleSerializer,
        parameters=[IF_MATCH, ETAG],
    )
    def partial_update(self, request, pk=None):
        schedule = self.get_object()
        data = validated(MeasureScheduleUpdateSerializer, request, partial=True)
        when = {
            name: data.get(name, getattr(schedule, name))
            for name in ("at_admission", "every_days", "at_discharge", "by_order")
        }
        schedule = services.measure_schedule_save(
            actor=request.user,
            program=schedule.program,
            instrument=schedule.instrument,
            schedule=schedule,
            expected_versions=expected_versions(request, schedule),
            **when,
        )
        return with_etag(Response(MeasureScheduleSerializer(schedule).data), schedule)

    @extend_schema(request=None, responses={204: None}, parameters=[IF_MATCH])
    def destroy(self, request, pk=None):
        schedule = self.get_object()
        services.measure_schedule_delete(
            actor=request.user,
            schedule=schedule,
            expected_versions=expected_versions(request, schedule),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
