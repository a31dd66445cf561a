from rest_framework import serializers

from clinic.models import AuditEvent, Clinic


class ClinicSerializer(serializers.ModelSerializer):
    class Meta:
        model = Clinic
        fields = ["id", "name", "public_name", "time_zone", "crisis_text"]


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(
        source="actor.username", default=None, allow_null=True, read_only=True
    )

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "occurred_at",
            "actor",
            "clinic",
            "patient_id",
            "action",
            "object_type",
            "object_id",
            "request_id",
        ]
