"""What every admin of the service shares: role permissions, saves that go through services, and
the clinic scoping and audit of pages that show patients' records (``ClinicScopedAdmin``, the
autocomplete view).

Admin pages must refuse what the API refuses, with the same message, and leave the same audit
rows. So a form's ``clean()`` calls the app's service (``perform``): a refusal becomes a form
error on the field it concerns instead of a 500, and the saved object is handed to the admin,
whose own ``save_model`` then has nothing left to do. This is safe because the admin runs every
POST of a change form inside one transaction, and admins built on this have no inline formsets
(related records are shown as read-only tables), so nothing can fail after the service wrote.
"""

import json

from django import forms
from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect, ForeignKeyRawIdWidget
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator, capfirst

from clinic.errors import ServiceError
from clinic.models import AuditAction, Clinic, Role
from clinic.selectors import clinic_ids_for_user, user_has_role
from clinic.services import audit_record, audit_record_many


class ServiceModelForm(forms.ModelForm):
    request = None  # set by ServiceAdminMixin.get_form
    result = None

    def perform(self, data: dict):
        """Call the service with the cleaned data; return the saved object."""
        raise NotImplementedError

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            self.result = self.perform(data)
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for field, messages in error.message_dict.items():
                    self.add_error(field if field in self.fields else None, messages)
            else:
                self.add_error(None, error)
        except ServiceError as error:
            self.add_error(None, ValidationError(error.detail, code=error.code))
        return data

    def _post_clean(self):
        # The service validated the model (and its constraints) already.
        pass


class VersionCheckedForm(ServiceModelForm):
    """A change form that refuses a stale save, as the API's ``If-Match`` does: the page carries
    the record's version as it showed it, and ``perform`` passes ``expected_versions`` to the
    service, which compares it under the row lock (``clinic.versions``) and names who changed
    the record since. A post without the field (a script) is not checked, like a request
    without ``If-Match``. A refused form keeps the version it was opened with, so saving again
    is refused again until the page is reloaded with the other person's change on it."""

    record_version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["record_version"].initial = self.instance.version

    @property
    def expected_versions(self) -> set[int] | None:
        version = self.cleaned_data.get("record_version")
        return None if version is None or self.instance.pk is None else {version}

    @cached_property
    def changed_data(self):
        # The version is how the form was opened, not a change to save.
        return [name for name in super().changed_data if name != "record_version"]


class KeyCheckingAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete widget, rendering a posted value that is not a key (a tampered or
    garbled form) as no selection instead of letting its own lookup raise (a 500); the field
    itself then reports the invalid choice."""

    def optgroups(self, name, value, attr=None):
        remote = self.field.remote_field
        key_field = remote.model._meta.get_field(remote.field_name)
        keys = []
        for item in value:
            try:
                key_field.to_python(item)
            except (ValidationError, ValueError, TypeError):
                continue
            keys.append(item)
        return super().optgroups(name, keys, attr)


def log_name(obj) -> str:
    """How the admin's log names an object: its kind and id, never its ``str()``."""
    return f"{capfirst(obj._meta.verbose_name)} #{obj.pk}"


class NamelessLogMixin:
    """The admin's log (the home page's "Recent actions", each object's history) keeps a name
    per entry for good, unaudited and shown whatever the reader may still see: Django's is the
    object's ``str()``, "Last, First (MRN)" for a patient. Here the kind and id only."""

    def _log(self, request, objects, action_flag, message=""):
        if isinstance(message, list):
            message = json.dumps(message)
        return LogEntry.objects.bulk_create(
            LogEntry(
                user_id=request.user.pk,
                content_type_id=ContentType.objects.get_for_model(obj, for_concrete_model=False).pk,
                object_id=str(obj.pk),
                object_repr=log_name(obj),
                action_flag=action_flag,
                change_message=message,
            )
            for obj in objects
        )

    def log_addition(self, request, obj, message):
        return self._log(request, [obj], ADDITION, message)[0]

    def log_change(self, request, obj, message):
        return self._log(request, [obj], CHANGE, message)[0]

    def log_deletions(self, request, queryset):
        return self._log(request, queryset, DELETION)


class ScopedRawIdWidget(ForeignKeyRawIdWidget):
    """Django's raw-id widget names the object its id points at, looked up among all rows (so
    ``?assessment=<another clinic's id>`` showed it): here only among the field's choices."""

    def __init__(self, rel, admin_site, *, queryset, **kwargs):
        self.queryset = queryset
        super().__init__(rel, admin_site, **kwargs)

    def label_and_url_for_value(self, value):
        key = self.rel.get_related_field().name
        try:
            obj = self.queryset.get(**{key: value})
        except (ValueError, TypeError, ValidationError, self.queryset.model.DoesNotExist):
            return "", ""
        opts = obj._meta
        try:
            url = reverse(
                f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]
            )
        except NoReverseMatch:
            url = ""
        return Truncator(obj).words(14), url


class ServiceAdminMixin(NamelessLogMixin):
    """Wires ``ServiceModelForm`` into the admin and grants access by staff role."""

    read_roles: tuple[str, ...] = ()
    write_roles: tuple[str, ...] = ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.raw_id_fields and "widget" not in kwargs:
            if "queryset" not in kwargs:
                # No choices given: what the related model's admin shows the caller, or nothing.
                model = db_field.remote_field.model
                try:
                    related_admin = self.admin_site.get_model_admin(model)
                    kwargs["queryset"] = related_admin.get_queryset(request)
                except NotRegistered:
                    kwargs["queryset"] = model._default_manager.none()
            kwargs["widget"] = ScopedRawIdWidget(
                db_field.remote_field,
                self.admin_site,
                queryset=kwargs["queryset"],
                using=kwargs.get("using"),
            )
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and type(field.widget) is AutocompleteSelect:
            field.widget.__class__ = KeyCheckingAutocompleteSelect
        return field

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.request = request
        return form

    def save_form(self, request, form, change):
        return form.result

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # A VersionCheckedForm's hidden version must be on the page; the admin renders only the
        # fields its fieldsets name, so it joins the last one (hidden inputs show no row).
        adminform = context.get("adminform")
        if change and adminform is not None and "record_version" in adminform.form.fields:
            *before, (name, options) = adminform.fieldsets
            fields = [*options["fields"], "record_version"]
            adminform.fieldsets = [*before, (name, {**options, "fields": fields})]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        pass  # saved by the service in form.clean()

    def save_related(self, request, form, formsets, change):
        pass

    def _has_role(self, request, roles) -> bool:
        user = request.user
        return user.is_active and (user.is_superuser or user_has_role(user, *roles))

    def has_module_permission(self, request):
        return self._has_role(request, self.read_roles + self.write_roles)

    def has_view_permission(self, request, obj=None):
        return self._has_role(request, self.read_roles + self.write_roles)

    def has_add_permission(self, request, *args):
        return self._has_role(request, self.write_roles)

    def has_change_permission(self, request, obj=None):
        return self._has_role(request, self.write_roles)

    def has_delete_permission(self, request, obj=None):
        return False


def related_table(headers, rows):
    """A small read-only HTML table: related records shown on a parent's page."""
    if not rows:
        return "none"
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
    )
    return format_html(
        '<table class="related-records"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
        head,
        body,
    )


def change_link(obj, text):
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text)


class AuditedAdminMixin(NamelessLogMixin):
    """An admin whose pages show patient data: a list page writes one audit row per row shown
    (one INSERT), a change page one read row. Subclasses say whose record an object is."""

    def audit_patient_id(self, obj) -> int | None:
        return obj.patient_id

    def audit_clinic_id(self, obj) -> int:
        return obj.clinic_id

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            audit_record_many(
                actor=request.user,
                action=AuditAction.LIST,
                objects=changelist.result_list,
                patient_id_of=self.audit_patient_id,
                clinic_id_of=self.audit_clinic_id,
            )
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        original = getattr(response, "context_data", {}).get("original")
        if request.method == "GET" and original is not None:
            audit_record(
                actor=request.user,
                action=AuditAction.READ,
                obj=original,
                clinic=self.audit_clinic_id(original),
                patient_id=self.audit_patient_id(original),
            )
        return response


class ClinicScopedAdmin(AuditedAdminMixin, ServiceAdminMixin, admin.ModelAdmin):
    """A patient's records: only the staff member's clinics, and every page that shows a
    patient's data is audited. Supervisors, utilization review (a payer's review is argued from
    the record) and alumni coordinators (who call patients after discharge) read; who writes is
    the subclass's rule (the patient's record: ``patients.admin.PatientRecordAdmin``)."""

    read_roles = (Role.SUPERVISOR, Role.UTILIZATION_REVIEW, Role.ALUMNI_COORDINATOR)
    write_roles = ()
    #: the lookup from this model to its clinic
    clinic_path = "patient__clinic"

    def patient_of(self, obj):
        return obj.patient

    def audit_patient_id(self, obj) -> int:
        return self.patient_of(obj).pk

    def audit_clinic_id(self, obj) -> int:
        return self.patient_of(obj).clinic_id

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(**{f"{self.clinic_path}_id__in": clinic_ids_for_user(request.user)})
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Choices offer only the staff member's own clinics and patients.
        if db_field.name == "clinic":
            kwargs["queryset"] = Clinic.objects.filter(id__in=clinic_ids_for_user(request.user))
        elif db_field.name == "patient":
            kwargs["queryset"] = db_field.related_model.objects.filter(
                clinic_id__in=clinic_ids_for_user(request.user)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if "patient" in request.GET:
            initial["patient"] = request.GET["patient"]
        return initial

    def response_add(self, request, obj, post_url_continue=None):
        """A plain "Save" of a new record lands on its patient's page, where the admissions
        path goes on (the record is listed there); the other buttons keep their meaning."""
        response = super().response_add(request, obj, post_url_continue)
        if any(key in request.POST for key in ("_continue", "_addanother", "_popup", "_saveasnew")):
            return response
        patient = self.patient_of(obj)
        opts = patient._meta
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[patient.pk])
        )


class AuditedAutocompleteJsonView(AutocompleteJsonView):
    """The admin's autocomplete, auditing answers that carry patients' names and MRNs: those of
    an admin with ``audit_autocomplete``, whose ``audit_*_id`` say whose record each answer is.

    Routed in config/urls.py in place of the admin site's own view.
    """

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        model_admin = self.model_admin
        if response.status_code == 200 and getattr(model_admin, "audit_autocomplete", False):
            ids = [int(row["id"]) for row in json.loads(response.content)["results"]]
            audit_record_many(
                actor=request.user,
                action=AuditAction.LIST,
                objects=model_admin.model._default_manager.filter(pk__in=ids),
                patient_id_of=model_admin.audit_patient_id,
                clinic_id_of=model_admin.audit_clinic_id,
            )
        return response
