"""``ur/queue/``: what utilization review acts on today (``programs.selectors.ur_queue``), for
the reviewers and supervisors of the caller's clinics. Thin: call the selector, audit the
records listed, render. Patient data: never cached, every listed record audited."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from clinic.api.mixins import NoStoreMixin
from clinic.api.permissions import roles_allowed
from clinic.api.utils import validated
from clinic.models import AuditAction
from clinic.services import audit_record_many
from patients.models import Level
from programs import selectors
from programs.models import AuthorizationStatus, AuthorizationUnit, ReviewKind
from programs.services.authorizations import UR_QUEUE_ROLES


class _StayFields(serializers.Serializer):
    """Who and where, shared by every row: the enrollment, its program and patient."""

    enrollment = serializers.IntegerField()
    program = serializers.IntegerField()
    program_name = serializers.CharField()
    patient = serializers.IntegerField()
    patient_name = serializers.CharField(help_text='"Last, First".')
    level = serializers.ChoiceField(
        choices=Level.choices, help_text="The enrollment's (clinical) level of care."
    )


class URAuthorizationRowSerializer(_StayFields):
    id = serializers.IntegerField(help_text="The authorization.")
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=AuthorizationStatus.choices)
    payer = serializers.IntegerField()
    payer_name = serializers.CharField()
    authorized_level = serializers.ChoiceField(
        choices=Level.choices, help_text="The payer's level, beside the clinical `level`."
    )
    unit = serializers.ChoiceField(choices=AuthorizationUnit.choices)
    units_approved = serializers.IntegerField()
    units_used = serializers.IntegerField(help_text="Days present or sessions attended, to date.")
    units_remaining = serializers.IntegerField()
    projected_exhaustion_on = serializers.DateField(allow_null=True)
    start_date = serializers.DateField()
    end_date = serializers.DateField(help_text="The last day covered.")
    next_review_on = serializers.DateField(allow_null=True)
    reviewer_name = serializers.CharField(help_text="The payer's reviewer.")
    reviewer_phone = serializers.CharField()


class URReviewRowSerializer(_StayFields):
    id = serializers.IntegerField(help_text="The review.")
    kind = serializers.ChoiceField(choices=ReviewKind.choices)
    scheduled_on = serializers.DateField()
    days_overdue = serializers.IntegerField(help_text="Today − the scheduled day, at least 0.")
    reviewer = serializers.CharField(help_text="The payer's reviewer for this review.")
    authorization = serializers.IntegerField()
    authorization_number = serializers.CharField()
    authorization_status = serializers.ChoiceField(choices=AuthorizationStatus.choices)
    authorized_level = serializers.ChoiceField(choices=Level.choices)
    start_date = serializers.DateField(help_text="The authorization's first day.")
    end_date = serializers.DateField(help_text="The authorization's last day.")
    reviewer_name = serializers.CharField(help_text="The authorization's reviewer contact.")
    reviewer_phone = serializers.CharField()


class UREnrollmentRowSerializer(_StayFields):
    start_date = serializers.DateField()
    planned_end_date = serializers.DateField()
    coverage = serializers.IntegerField(help_text="The coverage that needs an authorization.")
    payer_name = serializers.CharField()


class URQueueSerializer(serializers.Serializer):
    reviews_past_due = URReviewRowSerializer(many=True)
    reviews_due_today = URReviewRowSerializer(many=True)
    reviews_due_tomorrow = URReviewRowSerializer(many=True)
    authorizations_ending = URAuthorizationRowSerializer(
        many=True, help_text="In force and ending within the clinic's `ur_ending_within_days`."
    )
    authorizations_units_low = URAuthorizationRowSerializer(
        many=True,
        help_text="In force with fewer units left than the clinic's `ur_units_left_below`.",
    )
    enrollments_without_authorization = UREnrollmentRowSerializer(
        many=True,
        help_text="In care today, covered by a payer that needs authorization, and with no "
        "authorization requested, approved or partially approved covering today.",
    )


def _stay(enrollment) -> dict:
    return {
        "enrollment": enrollment.pk,
        "program": enrollment.program_id,
        "program_name": enrollment.program.name,
        "patient": enrollment.patient_id,
        "patient_name": enrollment.patient.display_name,
        "level": enrollment.level,
    }


def authorization_row(authorization) -> dict:
    return {
        **_stay(authorization.enrollment),
        "id": authorization.pk,
        "number": authorization.number,
        "status": authorization.status,
        "payer": authorization.payer_id,
        "payer_name": authorization.payer.name,
        "authorized_level": authorization.authorized_level,
        "unit": authorization.unit,
        "units_approved": authorization.units_approved,
        "units_used": authorization.units_used,
        "units_remaining": authorization.units_remaining,
        "projected_exhaustion_on": authorization.projected_exhaustion_on,
        "start_date": authorization.start_date,
        "end_date": authorization.end_date,
        "next_review_on": authorization.next_review_on,
        "reviewer_name": authorization.reviewer_name,
        "reviewer_phone": authorization.reviewer_phone,
    }


def review_row(review) -> dict:
    authorization = review.authorization
    return {
        **_stay(authorization.enrollment),
        "id": review.pk,
        "kind": review.kind,
        "scheduled_on": review.scheduled_on,
        "days_overdue": max((review.queue_today - review.scheduled_on).days, 0),
        "reviewer": review.reviewer,
        "authorization": authorization.pk,
        "authorization_number": authorization.number,
        "authorization_status": authorization.status,
        "authorized_level": authorization.authorized_level,
        "start_date": authorization.start_date,
        "end_date": authorization.end_date,
        "reviewer_name": authorization.reviewer_name,
        "reviewer_phone": authorization.reviewer_phone,
    }


def enrollment_row(enrollment) -> dict:
    return {
        **_stay(enrollment),
        "start_date": enrollment.start_date,
        "planned_end_date": enrollment.planned_end_date,
        "coverage": enrollment.coverage_id,
        "payer_name": enrollment.payer_name,
    }


ROW_OF_SECTION = {
    "reviews_past_due": review_row,
    "reviews_due_today": review_row,
    "reviews_due_tomorrow": review_row,
    "authorizations_ending": authorization_row,
    "authorizations_units_low": authorization_row,
    "enrollments_without_authorization": enrollment_row,
}


def ur_queue_rows(queue: dict[str, list]) -> dict[str, list[dict]]:
    """The queue's records as the API's (and the admin board's) rows."""
    return {name: [ROW_OF_SECTION[name](obj) for obj in rows] for name, rows in queue.items()}


class URQueueQuerySerializer(serializers.Serializer):
    clinic = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="Clinic id: that clinic's queue only (default: every clinic of the caller's).",
    )


class URQueueView(NoStoreMixin, generics.GenericAPIView):
    """What utilization review acts on in the caller's clinics, each by its own today: reviews
    past due, due today and tomorrow; authorizations in force ending soon or low on units; and
    covered stays without an authorization (see ``programs.selectors.ur_queue``). Reviewers
    and supervisors only. Patient data: every record listed is audited."""

    permission_classes = [roles_allowed(read=UR_QUEUE_ROLES)]
    serializer_class = URQueueSerializer
    filter_backends = []
    pagination_class = None

    @extend_schema(parameters=[URQueueQuerySerializer], responses=URQueueSerializer)
    def get(self, request):
        query = validated(URQueueQuerySerializer, request, data=request.query_params)
        queue = selectors.ur_queue(
            user=request.user, now=timezone.now(), clinic=query.get("clinic")
        )
        audit_record_many(
            actor=request.user,
            action=AuditAction.LIST,
            objects=selectors.ur_queue_records(queue),
            patient_id_of=lambda record: selectors.ur_queue_stay(record).patient_id,
            clinic_id_of=lambda record: selectors.ur_queue_stay(record).program.clinic_id,
        )
        return Response(URQueueSerializer(ur_queue_rows(queue)).data)
