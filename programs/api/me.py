"""The patient's own enrollments, aftercare plan and check-ins (API.md "The patient's app").

Only the patient's app account reaches these (``IsPatient``) and every queryset starts from the
account's own patient: no id is taken from the request, so no other patient can be named. A
check-in goes to the patient's current plan, never to one the body names.

What the patient sees is what is theirs to act on: programs and dates of their stays, and a
place offered to them from the waitlist with its expiry while they may still take it up; the
plan's items, goals, medication and sober-living arrangements; their check-ins. Left out on
purpose: staff (primary clinician, who created what), the plan's free-text ``notes`` (kept by
staff for staff), waitlist bookkeeping (priority, passed over, lapsed offers), discharge reasons
and the risk flag of a check-in (the care team is alerted; the app need not grade the patient's
answers).
"""

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from clinic.api.mixins import NoStoreMixin, PatientDataMixin
from clinic.api.patient_permissions import IsPatient
from clinic.api.schema import deprecation
from clinic.api.utils import validated
from clinic.errors import Conflict
from clinic.models import AuditAction
from clinic.services import audit_record
from programs import selectors
from programs.api.aftercare import CheckInCreateSerializer
from programs.models import (
    AftercareGoal,
    AftercareItem,
    AftercarePlan,
    CheckIn,
    Enrollment,
    EnrollmentStatus,
)
from programs.services import aftercare as services

# Serializers --------------------------------------------------------------------------------------


class MyOfferSerializer(serializers.Serializer):
    offered_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.DateTimeField(
        read_only=True, help_text="Call the clinic before this time to take up the place."
    )


# ``offer_expires_at`` repeats ``offer.expires_at`` (both null without a live offer): one way to
# read the expiry is enough for the app.
@extend_schema_serializer(deprecate_fields=["offer_expires_at"])
class MyEnrollmentSerializer(serializers.ModelSerializer):
    program_name = serializers.CharField(source="program.name", read_only=True)
    track = serializers.CharField(
        source="program.track", read_only=True, help_text="day, evening, or empty."
    )
    offer = serializers.SerializerMethodField(
        help_text="The place offered to the patient while they are waitlisted and may still "
        "take it up by calling the clinic; null otherwise (none, taken, lapsed or withdrawn)."
    )
    offer_expires_at = serializers.SerializerMethodField(
        help_text="When the live offer expires; null when there is none. "
        + deprecation(since="1.1.0", removal="1.3.0", instead="`offer.expires_at`")
    )

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "program",
            "program_name",
            "level",
            "track",
            "status",
            "start_date",
            "planned_end_date",
            "discharge_date",
            "offer",
            "offer_expires_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "start_date": {"help_text": "The admission date (the date asked for while waitlisted)."}
        }

    def _live_offer(self, enrollment) -> bool:
        # The enrollment holds its open offer's times (no query per row); ``now`` is the
        # request's one reading of the clock (MyEnrollmentsView).
        return (
            enrollment.status == EnrollmentStatus.WAITLISTED
            and enrollment.offer_expires_at is not None
            and enrollment.offer_expires_at > self.context["now"]
        )

    @extend_schema_field(MyOfferSerializer(allow_null=True))
    def get_offer(self, enrollment):
        if not self._live_offer(enrollment):
            return None
        return MyOfferSerializer(
            {"offered_at": enrollment.offered_at, "expires_at": enrollment.offer_expires_at}
        ).data

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_offer_expires_at(self, enrollment):
        if not self._live_offer(enrollment):
            return None
        return serializers.DateTimeField().to_representation(enrollment.offer_expires_at)


class MyAftercareItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = AftercareItem
        fields = ["id", "kind", "text", "scheduled_for"]
        read_only_fields = fields


class MyAftercareGoalSerializer(serializers.ModelSerializer):
    class Meta:
        model = AftercareGoal
        fields = ["id", "description", "status", "target_date"]
        read_only_fields = fields


class MyAftercarePlanSerializer(serializers.ModelSerializer):
    program_name = serializers.CharField(source="enrollment.program.name", read_only=True)
    items = MyAftercareItemSerializer(many=True, read_only=True)
    goals = MyAftercareGoalSerializer(many=True, read_only=True)

    class Meta:
        model = AftercarePlan
        fields = [
            "id",
            "enrollment",
            "program_name",
            "status",
            "review_date",
            "medication_continuation",
            "sober_living",
            "items",
            "goals",
            "updated_at",
        ]
        read_only_fields = fields


class MyCheckInSerializer(serializers.ModelSerializer):
    class Meta:
        model = CheckIn
        fields = ["id", "plan", "craving", "mood", "used_substance", "note", "recorded_at"]
        read_only_fields = fields


class MyCheckInCreateSerializer(CheckInCreateSerializer):
    """``{"craving", "mood", "used_substance", "note"}``; anything else (a plan, a patient) is
    refused: the check-in always goes to the patient's own current plan."""

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {name: ["This field is not accepted here."] for name in sorted(unknown)}
            )
        return attrs


# Views --------------------------------------------------------------------------------------------


class MyEnrollmentsView(PatientDataMixin, generics.ListAPIView):
    """The patient's enrollments (waitlisted, admitted, discharged, cancelled), newest first."""

    permission_classes = [IsPatient]
    serializer_class = MyEnrollmentSerializer
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Enrollment.objects.none()
        return selectors.enrollment_list_of_patient(patient=self.request.user.patient)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}

    def audit_clinic_id(self, obj):
        return obj.program.clinic_id


class MyAftercarePlanView(NoStoreMixin, APIView):
    """The patient's current aftercare plan (the active one, else the draft being built before
    discharge) with its items and goals; 404 when there is none."""

    permission_classes = [IsPatient]

    @extend_schema(responses=MyAftercarePlanSerializer)
    def get(self, request):
        plan = selectors.aftercare_plan_current(patient=request.user.patient, with_contents=True)
        if plan is None:
            raise Http404
        audit_record(
            actor=request.user,
            action=AuditAction.READ,
            obj=plan,
            clinic=plan.enrollment.program.clinic_id,
            patient_id=plan.patient_id,
        )
        return Response(MyAftercarePlanSerializer(plan).data)


class MyCheckInsView(PatientDataMixin, generics.ListAPIView):
    """The patient's check-ins: their history, and a new one against the current plan."""

    permission_classes = [IsPatient]
    serializer_class = MyCheckInSerializer
    filter_backends = []
    throttle_scope = "checkin"

    def get_throttles(self):
        # New check-ins have a rate of their own (THROTTLE_CHECKIN): an app posting in a loop
        # stops there; reading the history does not count against it.
        throttles = super().get_throttles()
        if self.request.method == "POST":
            throttles.append(ScopedRateThrottle())
        return throttles

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CheckIn.objects.none()
        return selectors.checkin_list_of_patient(patient=self.request.user.patient)

    def audit_clinic_id(self, obj):
        # A check-in's plan hangs on an enrollment in the patient's own clinic.
        return self.request.user.patient.clinic_id

    @extend_schema(description="The patient's check-ins on every plan, newest first.")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        description="Report cravings (0–10), mood (1–5) and use against the current aftercare "
        "plan; 409 `no_open_plan` when the patient has none. Use reported or a craving of 8 or "
        "more alerts the care team, once.",
        request=MyCheckInCreateSerializer,
        responses={201: MyCheckInSerializer},
    )
    def post(self, request):
        data = validated(MyCheckInCreateSerializer, request)
        plan = selectors.aftercare_plan_current(patient=request.user.patient)
        if plan is None:
            raise Conflict(
                "There is no open aftercare plan to check in against; your care team starts "
                "one before discharge.",
                code="no_open_plan",
            )
        checkin = services.checkin_record(actor=request.user, plan=plan, **data)
        return Response(MyCheckInSerializer(checkin).data, status=status.HTTP_201_CREATED)
