"""The calendar admin: series and sessions, and a week view of a program.

Every save goes through the services (``clinic.admin_utils.ServiceModelForm``): adding a session
calls ``program_session_create``, changing one moves it (``program_session_move``), changing a
series edits its future occurrences (``program_series_edit``, scope "all", weekdays too),
cancelling is an action (``session_cancel``). Those services keep a program's cadence (its week
as a whole) and session length through ``scheduling.program_rules``, as the API does. A double
booking the database refuses shows as the constraint's message on the field it concerns, never
as a server error.

Clinicians and supervisors plan; admissions read. Times are entered and shown in the clinic's
zone; a session's page lists its roster (patients' names), so opening it is audited.
"""

import contextlib
import datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode

from clinic.admin import OwnClinicFilter
from clinic.admin_utils import (
    ServiceAdminMixin,
    ServiceModelForm,
    VersionCheckedForm,
    related_table,
)
from clinic.errors import ServiceError, violated_constraint
from clinic.models import AuditAction, Clinic, Role
from clinic.selectors import clinic_ids_for_user
from clinic.services import audit_record_many
from patients.models import Patient
from scheduling import selectors, services
from scheduling.models import Series, Session, SessionKind, SessionStatus
from scheduling.program_rules import session_note_statuses
from scheduling.recurrence import local_to_utc

# Who reads the calendar without writing it (utilization review: sessions attended are units used;
# alumni coordinators: the appointments after a discharge).
READ_ROLES = (Role.ADMISSIONS, Role.UTILIZATION_REVIEW, Role.ALUMNI_COORDINATOR)
WEEKDAYS = [
    (1, "Monday"),
    (2, "Tuesday"),
    (3, "Wednesday"),
    (4, "Thursday"),
    (5, "Friday"),
    (6, "Saturday"),
    (7, "Sunday"),
]
# The field of the form each exclusion constraint is about.
CONSTRAINT_FIELDS = {
    "session_facilitator_not_double_booked": "facilitator",
    "session_room_not_double_booked": "room",
}


def _constraint_refusal(error: IntegrityError) -> ValidationError:
    """The database refused a write (a double booking): the constraint's own message, on its
    field. Anything else is not ours to explain and propagates."""
    constraint = violated_constraint(error)
    if constraint is None:
        raise error
    message = str(constraint.get_violation_error_message())
    field = CONSTRAINT_FIELDS.get(constraint.name)
    return ValidationError({field: [message]} if field else message)


@contextlib.contextmanager
def _refusals_as_form_errors():
    """Run a service in a savepoint; a constraint's refusal becomes a ValidationError."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as error:
        raise _constraint_refusal(error) from error


def _zone_of_user(request) -> str | None:
    """The one time zone of the staff member's clinics (None when they span several)."""
    zones = set(
        Clinic.objects.filter(id__in=clinic_ids_for_user(request.user)).values_list(
            "time_zone", flat=True
        )
    )
    return zones.pop() if len(zones) == 1 else None


def _check_same_clinic(clinic, data: dict, names) -> None:
    errors = {
        name: ["Choose one of the clinic's own."]
        for name in names
        if data.get(name) is not None and data[name].clinic_id != clinic.pk
    }
    facilitator = data.get("facilitator")
    works_elsewhere = (
        facilitator is not None
        and not facilitator.clinic_memberships.filter(clinic=clinic).exists()
    )
    if works_elsewhere:
        errors["facilitator"] = ["The facilitator does not work at this clinic."]
    if errors:
        raise ValidationError(errors)


class CalendarAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Only the staff member's clinics; choices offer only their programs, rooms and staff."""

    read_roles = READ_ROLES
    write_roles = services.CALENDAR_WRITE_ROLES
    list_filter = [OwnClinicFilter]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(clinic_id__in=clinic_ids_for_user(request.user))
            .select_related("clinic", "program", "room", "facilitator")
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        user = request.user
        if db_field.name == "clinic":
            kwargs["queryset"] = Clinic.objects.filter(id__in=clinic_ids_for_user(user))
        elif db_field.name == "program":
            kwargs["queryset"] = selectors.program_options(user=user)
        elif db_field.name == "room":
            kwargs["queryset"] = selectors.room_options(user=user)
        elif db_field.name == "facilitator":
            kwargs["queryset"] = selectors.facilitator_options(user=user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        clinics = clinic_ids_for_user(request.user)
        if len(clinics) == 1:
            initial.setdefault("clinic", clinics[0])
        return initial

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        zone = getattr(request, "_calendar_zone", None) or "UTC"
        for name in ("starts_at", "ends_at"):
            if name in form.base_fields:
                help_text = form.base_fields[name].help_text
                form.base_fields[name].help_text = " ".join(
                    part for part in [f"In the clinic's time ({zone}).", help_text] if part
                )
        return form

    def _zone_for(self, request, object_id) -> str | None:
        if object_id:
            obj = self.get_object(request, object_id)
            if obj is not None:
                return obj.clinic.time_zone
        return _zone_of_user(request)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Times are typed and shown in the clinic's zone: parse and render under it.
        zone = self._zone_for(request, object_id)
        request._calendar_zone = zone
        with timezone.override(zone) if zone else contextlib.nullcontext():
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render"):
                response.render()
        return response


# Series -------------------------------------------------------------------------------------------


class SeriesAddForm(ServiceModelForm):
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Series
        fields = [
            "clinic",
            "program",
            "kind",
            "title",
            "weekdays",
            "local_start_time",
            "duration_minutes",
            "starts_on",
            "ends_on",
            "location",
            "room",
            "facilitator",
            "capacity",
        ]
        help_texts = {
            "local_start_time": "Wall-clock time in the clinic's zone, kept across DST changes.",
            "program": "A program's series must keep its cadence and session length; its "
            "enrolled patients join the new sessions' rosters.",
        }

    def perform(self, data):
        clinic, program = data["clinic"], data.get("program")
        _check_same_clinic(clinic, data, ["program", "room"])
        fields = {name: data.get(name) for name in self.Meta.fields[2:]}
        fields["location"] = fields["location"] or ""
        with _refusals_as_form_errors():
            series, _sessions = services.series_create_and_expand(
                actor=self.request.user, clinic=clinic, program=program, **fields
            )
        return series


class SeriesEditForm(ServiceModelForm):
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text="Future occurrences on a dropped day are cancelled; an added day gets its "
        "occurrences from today. A program's week must keep its cadence.",
    )

    class Meta:
        model = Series
        fields = ["title", "weekdays", "local_start_time", "duration_minutes", "location"]
        help_texts = {
            "local_start_time": "Changes every future occurrence, except those moved on "
            "their own; past sessions keep theirs.",
        }

    def perform(self, data):
        series = self.instance
        changes = {name: data[name] for name in self.changed_data}
        if "weekdays" in changes and sorted(changes["weekdays"]) == sorted(series.weekdays):
            del changes["weekdays"]
        if not changes:
            return series
        occurrence = series.sessions.order_by("occurrence_date", "id").first()
        if occurrence is None:
            raise ValidationError("This series has no sessions to edit yet.")
        with _refusals_as_form_errors():
            services.program_series_edit(
                actor=self.request.user, session=occurrence, scope="all", **changes
            )
        series.refresh_from_db()
        return series


@admin.register(Series)
class SeriesAdmin(CalendarAdmin):
    list_display = [
        "title",
        "program",
        "kind",
        "days",
        "local_start_time",
        "duration_minutes",
        "starts_on",
        "ends_on",
        "facilitator",
        "room",
        "clinic",
    ]
    list_filter = [OwnClinicFilter, "kind"]
    search_fields = ["title", "location"]
    ordering = ["title", "id"]
    fixed_fields = [
        "clinic",
        "program",
        "kind",
        "days",
        "time_zone",
        "starts_on",
        "ends_on",
        "room",
        "facilitator",
        "capacity",
        "materialized_until",
        "created_by",
        "created_at",
    ]

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = SeriesAddForm if obj is None else SeriesEditForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return SeriesAddForm.Meta.fields
        return [*SeriesEditForm.Meta.fields, *self.fixed_fields]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.fixed_fields

    @admin.display(description="Weekdays")
    def days(self, series):
        names = dict(WEEKDAYS)
        return ", ".join(names[day][:3] for day in series.weekdays)


# Sessions -----------------------------------------------------------------------------------------


class SessionAddForm(ServiceModelForm):
    patient = forms.ModelChoiceField(
        queryset=Patient.objects.none(),
        required=False,
        help_text="The patient of an individual appointment.",
    )

    class Meta:
        model = Session
        fields = [
            "clinic",
            "program",
            "kind",
            "title",
            "starts_at",
            "ends_at",
            "location",
            "room",
            "facilitator",
            "capacity",
            "patient",
        ]
        help_texts = {
            "facilitator": "The clinician; an individual appointment without one is yours.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.request is not None:
            self.fields["patient"].queryset = Patient.objects.filter(
                clinic_id__in=clinic_ids_for_user(self.request.user)
            ).order_by("last_name", "first_name")

    def perform(self, data):
        clinic, program = data["clinic"], data.get("program")
        _check_same_clinic(clinic, data, ["program", "room", "patient"])
        facilitator = data.get("facilitator")
        if data["kind"] == SessionKind.INDIVIDUAL and facilitator is None:
            facilitator = self.request.user
        with _refusals_as_form_errors():
            session = services.program_session_create(
                actor=self.request.user,
                clinic=clinic,
                program=program,
                kind=data["kind"],
                title=data["title"],
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                location=data.get("location") or "",
                room=data.get("room"),
                facilitator=facilitator,
                capacity=data.get("capacity"),
                patient=data.get("patient"),
            )
        return session


class SessionMoveForm(VersionCheckedForm):
    class Meta:
        model = Session
        fields = ["starts_at", "ends_at", "location", "room"]
        help_texts = {
            "starts_at": "Moving an occurrence of a series detaches it: later edits of the "
            "series leave it be.",
        }

    def perform(self, data):
        session = self.instance
        if not self.changed_data:
            return session
        room = data.get("room")
        if room is not None and room.clinic_id != session.clinic_id:
            raise ValidationError({"room": ["Choose a room of the session's clinic."]})
        with _refusals_as_form_errors():
            return services.program_session_move(
                actor=self.request.user,
                session=session,
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                location=data.get("location") or "",
                room=room,
                expected_versions=self.expected_versions,
            )


class OwnProgramFilter(admin.SimpleListFilter):
    title = "program"
    parameter_name = "program"

    def lookups(self, request, model_admin):
        return [(p.pk, p.name) for p in selectors.program_options(user=request.user)]

    def queryset(self, request, queryset):
        return queryset.filter(program_id=self.value()) if self.value() else queryset


class NeedsAttendanceFilter(admin.SimpleListFilter):
    title = "attendance"
    parameter_name = "needs_attendance"

    def lookups(self, request, model_admin):
        return [("yes", "Ended without attendance")]

    def queryset(self, request, queryset):
        return queryset.filter(needs_attendance=True) if self.value() == "yes" else queryset


@admin.register(Session)
class SessionAdmin(CalendarAdmin):
    list_display = [
        "title",
        "local_start",
        "kind",
        "program",
        "location",
        "room",
        "facilitator",
        "status",
        "roster_size",
        "attendance_due",
    ]
    list_filter = [OwnClinicFilter, OwnProgramFilter, "status", "kind", NeedsAttendanceFilter]
    search_fields = ["title", "location"]
    date_hierarchy = "starts_at"
    ordering = ["starts_at", "id"]
    actions = ["cancel_selected"]
    fixed_fields = [
        "clinic",
        "program",
        "series",
        "occurrence_date",
        "detached",
        "kind",
        "title",
        "facilitator",
        "capacity",
        "status",
        "sequence",
        "roster_table",
    ]

    def get_queryset(self, request):
        return selectors.session_annotate(super().get_queryset(request))

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = SessionAddForm if obj is None else SessionMoveForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return SessionAddForm.Meta.fields
        if not self.has_change_permission(request, obj):
            return ["starts_at", "ends_at", "location", "room", *self.fixed_fields]
        return [*SessionMoveForm.Meta.fields, *self.fixed_fields]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return self.fixed_fields

    def has_change_permission(self, request, obj=None):
        # Only a scheduled session moves; a cancelled or completed one is kept as it was.
        if obj is not None and obj.status != SessionStatus.SCHEDULED:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description="Starts (clinic time)", ordering="starts_at")
    def local_start(self, session):
        local = timezone.localtime(session.starts_at, session.clinic.zone)
        end = timezone.localtime(session.ends_at, session.clinic.zone)
        return f"{local:%a %Y-%m-%d %H:%M}–{end:%H:%M}"

    @admin.display(description="Roster", ordering="roster_count")
    def roster_size(self, session):
        return session.roster_count

    @admin.display(description="Attendance due", boolean=True)
    def attendance_due(self, session):
        return session.needs_attendance

    def _roster(self, session):
        if not hasattr(session, "_roster"):
            session._roster = list(selectors.roster_for(session))
        return session._roster

    def get_object(self, request, object_id, from_field=None):
        session = super().get_object(request, object_id, from_field)
        if session is not None:
            # The roster's note statuses are the caller's to read or not (one query).
            session._note_statuses = session_note_statuses(session, user=request.user)
        return session

    @admin.display(description="Roster")
    def roster_table(self, session):
        notes = getattr(session, "_note_statuses", {})
        return related_table(
            ["Patient", "MRN", "Answer", "Attendance", "Checked in", "Note"],
            [
                (
                    entry.patient.display_name,
                    entry.patient.mrn,
                    entry.get_response_display(),
                    entry.attendance.get_status_display() if _has_attendance(entry) else "",
                    timezone.localtime(
                        entry.attendance.checked_in_at, session.clinic.zone
                    ).strftime("%H:%M")
                    if _has_attendance(entry) and entry.attendance.checked_in_at
                    else "",
                    _note_status(notes.get(entry.patient_id)),
                )
                for entry in self._roster(session)
            ],
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        session = getattr(response, "context_data", {}).get("original")
        if request.method == "GET" and session is not None:
            # The roster names patients.
            audit_record_many(
                actor=request.user,
                action=AuditAction.LIST,
                objects=self._roster(session),
                patient_id_of=lambda entry: entry.patient_id,
                clinic_id_of=lambda entry: session.clinic_id,
            )
        return response

    @admin.action(description="Cancel the selected sessions", permissions=["change"])
    def cancel_selected(self, request, queryset):
        for session in queryset:
            try:
                with transaction.atomic():
                    services.session_cancel(actor=request.user, session=session)
            except ServiceError as refusal:
                self.message_user(request, f"{session}: {refusal.detail}", messages.WARNING)
            else:
                self.message_user(request, f"{session}: cancelled.", messages.SUCCESS)

    # The week view of a program ---------------------------------------------------------------

    def get_urls(self):
        week = path(
            "week/",
            self.admin_site.admin_view(self.week_view),
            name="scheduling_session_week",
        )
        return [week, *super().get_urls()]

    def week_view(self, request):
        """A program's week: seven local days, each with its sessions in clinic time."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        programs = list(selectors.program_options(user=request.user).order_by("name", "id"))
        program = None
        if request.GET.get("program"):
            program = next((p for p in programs if str(p.pk) == request.GET["program"]), None)
            if program is None:
                raise Http404("No such program.")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Week of {program.name}" if program else "Week view",
            "programs": programs,
            "program": program,
        }
        if program is not None:
            context.update(self._week(request, program))
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/scheduling/week.html", context)

    def _week(self, request, program) -> dict:
        zone = program.clinic.time_zone
        try:
            day = datetime.date.fromisoformat(request.GET.get("week", ""))
        except ValueError:
            day = program.clinic.today()
        monday = day - datetime.timedelta(days=day.weekday())
        next_monday = monday + datetime.timedelta(days=7)
        sessions = selectors.session_annotate(
            Session.objects.filter(
                program=program,
                starts_at__gte=local_to_utc(monday, datetime.time(0), zone),
                starts_at__lt=local_to_utc(next_monday, datetime.time(0), zone),
            )
        ).order_by("starts_at", "id")
        days = [
            {"date": monday + datetime.timedelta(days=offset), "sessions": []}
            for offset in range(7)
        ]
        for session in sessions:
            starts = timezone.localtime(session.starts_at, program.clinic.zone)
            ends = timezone.localtime(session.ends_at, program.clinic.zone)
            days[(starts.date() - monday).days]["sessions"].append(
                {
                    "session": session,
                    # Formatted here: the template's time filter would convert back to UTC.
                    "time_range": f"{starts:%H:%M}–{ends:%H:%M}",
                    "place": ", ".join(
                        part
                        for part in [session.location, session.room and f"room {session.room}"]
                        if part
                    ),
                    "cancelled": session.status == SessionStatus.CANCELLED,
                    "url": reverse("admin:scheduling_session_change", args=[session.pk]),
                }
            )

        def week_url(start):
            return "?" + urlencode({"program": program.pk, "week": start.isoformat()})

        return {
            "days": days,
            "monday": monday,
            "sunday": next_monday - datetime.timedelta(days=1),
            "time_zone": zone,
            "previous_url": week_url(monday - datetime.timedelta(days=7)),
            "next_url": week_url(next_monday),
        }


def _note_status(note: dict | None) -> str:
    if note is None:
        return ""
    status = note["status"].replace("_", " ")
    return f"{status} (late)" if note["late"] else status


def _has_attendance(entry) -> bool:
    # A missing reverse one-to-one raises RelatedObjectDoesNotExist, an AttributeError.
    return hasattr(entry, "attendance")
