"""The intermediate page of an action on one object (``ActionPagesMixin.action_view``): a form
whose ``perform`` calls one service, its refusal shown with the service's message. Enrollments,
authorizations and inquiries have such pages."""

import datetime

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from clinic.errors import ServiceError, violated_constraint
from clinic.models import AuditAction
from clinic.services import audit_record
from programs.models import Enrollment
from programs.services.enrollments import ACTION_ROLES


def refusal_messages(error: Exception) -> list[str]:
    """What a service's refusal says, as sentences for a person."""
    if isinstance(error, ServiceError):
        return [error.detail]
    if isinstance(error, ValidationError):
        return error.messages
    # A lost race (the services check under locks): the constraint's own message.
    constraint = violated_constraint(error)
    if constraint is None:
        raise error
    return [str(constraint.get_violation_error_message())]


class EnrollmentActionForm(forms.Form):
    """The form of one intermediate page; ``perform`` calls one service."""

    action = ""
    title = ""
    submit_label = "Confirm"
    intro = ""

    def __init__(self, *args, enrollment: Enrollment, request, **kwargs):
        self.enrollment = enrollment
        self.request = request
        super().__init__(*args, **kwargs)

    @classmethod
    def roles(cls) -> tuple[str, ...]:
        """Who may open the page: the service's roles for the action."""
        return ACTION_ROLES[cls.action]

    def today(self) -> datetime.date:
        return self.enrollment.program.clinic.today()

    def perform(self, data):
        raise NotImplementedError

    def success_message(self, result) -> str:
        raise NotImplementedError

    def extra_context(self) -> dict:
        """What the page shows beside the form."""
        return {}

    def run(self):
        """Call the service; a refusal becomes form errors and the result is None."""
        try:
            with transaction.atomic():
                return self.perform(self.cleaned_data)
        except (ServiceError, ValidationError, IntegrityError) as error:
            if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
                for field, field_messages in error.message_dict.items():
                    self.add_error(field if field in self.fields else None, field_messages)
            else:
                self.add_error(None, refusal_messages(error))
        return None

    def redirect_to(self, result) -> Enrollment:
        return self.enrollment


class ActionPagesMixin:
    """A model admin's intermediate pages, one per entry of ``action_forms`` (name → form
    class), each at ``<object id>/<name>/``; the form gets the object as its
    ``action_subject`` keyword. The admin provides ``_has_role``."""

    action_forms: dict[str, type[EnrollmentActionForm]] = {}
    action_subject = "enrollment"

    def action_pages(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                f"<path:object_id>/{name}/",
                self.admin_site.admin_view(self.action_view),
                {"action": name},
                name="{}_{}_".format(*info) + name,
            )
            for name in self.action_forms
        ]

    def action_audit_clinic_id(self, obj, form) -> int:
        """The clinic of the page's object, for the audit row of opening the page."""
        return form.enrollment.program.clinic_id

    def _action_url(self, obj, name) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=[obj.pk])

    def action_view(self, request, object_id, action):
        form_class = self.action_forms[action]
        if not self._has_role(request, form_class.roles()):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        data = request.POST if request.method == "POST" else None
        form = form_class(data, **{self.action_subject: obj}, request=request)
        # The page it was opened from (the patient's page), when that is one of ours.
        back_to = request.POST.get("next") or request.GET.get("next") or ""
        if not url_has_allowed_host_and_scheme(
            back_to, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            back_to = ""
        # "_check" asks the page what sending would do (DiscloseForm's preview), nothing more.
        if form.is_bound and form.is_valid() and "_check" not in request.POST:
            result = form.run()
            if result is not None:
                self.message_user(request, form.success_message(result), messages.SUCCESS)
                if back_to:
                    return redirect(back_to)
                target = form.redirect_to(result)
                opts = target._meta
                return redirect(f"admin:{opts.app_label}_{opts.model_name}_change", target.pk)
        if request.method == "GET":
            audit_record(
                actor=request.user,
                action=AuditAction.READ,
                obj=obj,
                clinic=self.action_audit_clinic_id(obj, form),
                patient_id=obj.patient_id,
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "title": form_class.title,
            "subtitle": str(obj),
            "intro": form_class.intro,
            "submit_label": form_class.submit_label,
            "form": form,
            "media": self.media + form.media,
            "change_url": back_to
            or reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[obj.pk]),
            "next": back_to,
            **form.extra_context(),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/programs/enrollment/action_form.html", context)
