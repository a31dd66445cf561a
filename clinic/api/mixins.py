"""Behaviour every viewset that serves patient data shares."""

from django.utils.cache import add_never_cache_headers, patch_cache_control
from rest_framework.response import Response

from clinic.api.conditional import with_etag
from clinic.models import AuditAction
from clinic.services import audit_record, audit_record_many
from clinic.versions import is_versioned


def never_cache_privately(response):
    """Patient data must not linger in browser, proxy or app caches."""
    add_never_cache_headers(response)
    patch_cache_control(response, no_store=True, private=True)
    return response


class NoStoreMixin:
    """A view whose every response carries ``Cache-Control: no-store, private``."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        return never_cache_privately(response)


class PatientDataMixin(NoStoreMixin):
    """Audits every read of patient data and keeps it out of caches.

    A list writes one audit row per record on the page (one INSERT); a detail read writes one.
    Subclasses say how an object names its patient and clinic.
    """

    def audit_patient_id(self, obj) -> int:
        return obj.patient_id

    def audit_clinic_id(self, obj) -> int:
        return obj.patient.clinic_id

    def audit_read(self, obj) -> None:
        audit_record(
            actor=self.request.user,
            action=AuditAction.READ,
            obj=obj,
            clinic=self.audit_clinic_id(obj),
            patient_id=self.audit_patient_id(obj),
        )

    def audit_list(self, objects) -> None:
        audit_record_many(
            actor=self.request.user,
            action=AuditAction.LIST,
            objects=objects,
            patient_id_of=self.audit_patient_id,
            clinic_id_of=self.audit_clinic_id,
        )

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        self.audit_list(page)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        self.audit_read(instance)
        return self.response_for(instance)

    def response_for(self, instance, status=200):
        """One record's answer; a versioned record's carries its ETag (clinic.api.conditional)."""
        response = Response(self.get_serializer(instance).data, status=status)
        return with_etag(response, instance) if is_versioned(instance) else response
