"""An enrollment's action pages (admit, discharge, cancel, transition, bed): one small form
each, whose ``perform`` calls one service; a refusal is shown with the service's message."""

import datetime

from django import forms
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from clinic.errors import ServiceError, violated_constraint
from clinic.models import Bed
from patients.models import Assessment
from programs.admin.programs import programs_of
from programs.models import (
    DischargeReason,
    Enrollment,
    EnrollmentStatus,
    Program,
    TransitionKind,
)
from programs.selectors import bed_assignments_holding, clinic_today
from programs.services import enrollments as services


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


def admitted_message(enrollment: Enrollment) -> str:
    return (
        f"{enrollment.patient} was admitted to {enrollment.program} from {enrollment.start_date}."
    )


def discharged_message(enrollment: Enrollment) -> str:
    return (
        f"{enrollment.patient} was discharged from {enrollment.program} on "
        f"{enrollment.discharge_date} ({enrollment.get_discharge_reason_display().lower()})."
    )


def cancelled_message(enrollment: Enrollment) -> str:
    return f"{enrollment.patient} was taken off the waitlist of {enrollment.program}."


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

    def today(self) -> datetime.date:
        return clinic_today(self.enrollment.program)

    def perform(self, data):
        raise NotImplementedError

    def success_message(self, result) -> str:
        raise NotImplementedError

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


class AdmitForm(EnrollmentActionForm):
    action = "admit"
    title = "Admit from the waitlist"
    submit_label = "Admit"
    start_date = forms.DateField(
        required=False,
        widget=AdminDateWidget,
        help_text="Empty: the requested date or today, whichever is later.",
    )

    def perform(self, data):
        return services.enrollment_admit(
            actor=self.request.user, enrollment=self.enrollment, start_date=data.get("start_date")
        )

    def success_message(self, result):
        return admitted_message(result)


class DischargeForm(EnrollmentActionForm):
    action = "discharge"
    title = "Discharge"
    submit_label = "Discharge"
    intro = "A move to another program is a transition, not a discharge."
    date = forms.DateField(widget=AdminDateWidget)
    # "Transferred" is what a transition records; it is not offered here.
    reason = forms.ChoiceField(
        choices=[c for c in DischargeReason.choices if c[0] != DischargeReason.TRANSFERRED]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["date"].initial = self.today()

    def perform(self, data):
        return services.enrollment_discharge(
            actor=self.request.user,
            enrollment=self.enrollment,
            date=data["date"],
            reason=data["reason"],
        )

    def success_message(self, result):
        return discharged_message(result)


class CancelForm(EnrollmentActionForm):
    action = "cancel"
    title = "Cancel the waitlisted enrollment"
    submit_label = "Cancel the enrollment"
    intro = "The patient leaves the program's waitlist; a place held for them passes on."
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional; kept in the enrollment's status history.",
    )

    def perform(self, data):
        return services.enrollment_cancel(
            actor=self.request.user, enrollment=self.enrollment, reason=data.get("reason", "")
        )

    def success_message(self, result):
        return cancelled_message(result)


class TransitionForm(EnrollmentActionForm):
    action = "transition"
    title = "Transition to another program"
    submit_label = "Move the patient"
    intro = (
        "The enrollment is discharged as transferred and the patient admitted to the new "
        "program on the same date, both or neither."
    )
    to_program = forms.ModelChoiceField(queryset=Program.objects.none(), label="To program")
    date = forms.DateField(widget=AdminDateWidget)
    kind = forms.ChoiceField(choices=[("", "---------"), *TransitionKind.choices])
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    assessment = forms.ModelChoiceField(
        queryset=Assessment.objects.none(),
        required=False,
        help_text="The reassessment the move follows, if any.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_program"].queryset = (
            programs_of(self.request).filter(is_active=True).exclude(pk=self.enrollment.program_id)
        )
        self.fields["assessment"].queryset = Assessment.objects.filter(
            patient_id=self.enrollment.patient_id
        )
        self.fields["date"].initial = self.today()

    def perform(self, data):
        return services.transition_create(
            actor=self.request.user,
            enrollment=self.enrollment,
            to_program=data["to_program"],
            date=data["date"],
            kind=data["kind"],
            reason=data["reason"],
            assessment=data.get("assessment"),
        )

    def success_message(self, result):
        return (
            f"{self.enrollment.patient} moved to {result.to_enrollment.program} on {result.date} "
            f"({result.get_kind_display().lower()})."
        )

    def redirect_to(self, result):
        return result.to_enrollment


class BedForm(EnrollmentActionForm):
    action = "bed"
    title = "Assign a bed"
    submit_label = "Assign the bed"
    intro = "The patient moves out of the bed they had, if any."
    bed = forms.ModelChoiceField(queryset=Bed.objects.none())
    date = forms.DateField(
        required=False,
        widget=AdminDateWidget,
        help_text="Empty: the admission date or today, whichever is later.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        beds = self.enrollment.program.beds.filter(is_active=True).order_by("room", "label")
        field = self.fields["bed"]
        field.queryset = beds
        # Say which beds are taken today (the service refuses a taken one anyway), without
        # naming who is in them: the bed board does that.
        today = self.today()
        taken = set(
            bed_assignments_holding(today).filter(bed__in=beds).values_list("bed_id", flat=True)
        )
        field.label_from_instance = lambda bed: f"{bed} ({'taken' if bed.pk in taken else 'free'})"

    def perform(self, data):
        return services.bed_assign(
            actor=self.request.user,
            enrollment=self.enrollment,
            bed=data["bed"],
            date=data.get("date"),
        )

    def success_message(self, result):
        return f"{self.enrollment.patient} is in bed {result.bed} from {result.start_date}."


ACTION_FORMS = {
    form.action: form for form in [AdmitForm, DischargeForm, CancelForm, TransitionForm, BedForm]
}
# Which buttons an enrollment's page shows in each state (the services decide in the end).
ACTIONS_BY_STATUS = {
    EnrollmentStatus.WAITLISTED: ["admit", "cancel"],
    EnrollmentStatus.ADMITTED: ["discharge", "transition", "bed"],
}
