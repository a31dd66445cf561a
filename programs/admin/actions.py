"""The intermediate page of an action on one enrollment (``EnrollmentAdmin.action_view``): a form
whose ``perform`` calls one service, its refusal shown with the service's message."""

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from clinic.errors import ServiceError, violated_constraint
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
