"""The patient's page as the admissions desk's one screen: care and beds beside the record.

``patients.admin.PatientAdmin`` cannot know about programs (the apps import only to their right),
so this module extends it and registers the extension in its place. The page then shows, under
the assessments, every enrollment of the patient with its bed and waitlist state, the programs of
the level the latest assessment points to with their free places today, and a link for each step
that is left (admit or waitlist, assign a bed, admit from the waitlist, transition). Each link
opens the service-backed form of that step and comes back to this page.

The consent form is extended the same way: it offers the clinic's programs as who may disclose.
"""

from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from clinic.admin_utils import change_link, related_table
from clinic.selectors import user_has_role
from patients.admin import ConsentAdmin, PatientAdmin
from patients.instruments import INSTRUMENTS
from patients.models import Consent, Patient
from programs import charts
from programs.admin.disclosures import DiscloseForm, bundle_url, category_labels
from programs.admin.measures import RecordMeasureForm
from programs.models import (
    Authorization,
    BedAssignment,
    DischargeSummary,
    EnrollmentStatus,
    MeasureResponse,
    MeasureSource,
    Program,
)
from programs.selectors import (
    coverage_list_of_patient,
    disclosure_list_of_patient,
    program_list,
    program_places,
)
from programs.services.authorizations import UTILIZATION_WRITE_ROLES
from programs.services.disclosures import patient_in_treatment
from programs.services.enrollments import ACTION_ROLES


def _may(user, step: str) -> bool:
    if user is None:
        return False
    forms = {DiscloseForm.action: DiscloseForm, RecordMeasureForm.action: RecordMeasureForm}
    roles = forms[step].roles() if step in forms else ACTION_ROLES[step]
    return user.is_superuser or user_has_role(user, *roles)


class PatientCareAdmin(PatientAdmin):
    """PatientAdmin plus the patient's programs, beds and the next admission steps."""

    readonly_fields = [
        *PatientAdmin.readonly_fields,
        "admission_links",
        "care_table",
        "disclosures_table",
        "coverage_table",
        "measures_table",
    ]

    def get_object(self, request, object_id, from_field=None):
        patient = super().get_object(request, object_id, from_field)
        if patient is not None:
            # The read-only displays get the object only, and their links depend on who looks:
            # the viewer travels on this request's own instance (the admin is shared).
            patient.viewer = request.user
        return patient

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return [
            *fieldsets,
            ("Programs and beds", {"fields": ["admission_links", "care_table"]}),
            ("Disclosures (the accounting, 42 CFR §2.25)", {"fields": ["disclosures_table"]}),
            ("Coverage and authorizations", {"fields": ["coverage_table"]}),
            ("Measures", {"fields": ["measures_table"]}),
        ]

    def in_treatment(self, patient) -> bool:
        return patient_in_treatment(patient, patient.clinic.today())

    def _patient_url(self, patient: Patient) -> str:
        return reverse("admin:patients_patient_change", args=[patient.pk])

    def _step_url(self, enrollment, step: str, patient: Patient) -> str:
        url = reverse(f"admin:programs_enrollment_{step}", args=[enrollment.pk])
        return f"{url}?{urlencode({'next': self._patient_url(patient)})}"

    @admin.display(description="Admit or waitlist")
    def admission_links(self, patient):
        """The programs of the level the latest assessment points to, with today's free places.

        Without an assessment there is nothing to admit on: the page says so. Other programs
        stay reachable through the general form (a clinician may have decided otherwise).
        """
        if not _may(getattr(patient, "viewer", None), "enroll"):
            return "Admissions staff admit from here."
        latest = patient.assessments.order_by("-assessed_at", "-id").first()
        if latest is None:
            return "Record an assessment first: the admission follows its level."
        level = latest.decided_level or latest.recommended_level
        track = latest.decided_track if latest.decided_level else latest.recommended_track
        programs = Program.objects.filter(
            clinic_id=patient.clinic_id, level=level, is_active=True
        ).select_related("clinic")
        if track:
            programs = programs.filter(Q(track=track) | Q(track=""))
        programs = list(programs.order_by("name", "id"))
        places = program_places(programs)
        add_url = reverse("admin:programs_enrollment_add")

        def add_link(program=None):
            query = {"patient": patient.pk, "assessment": latest.pk}
            if program is not None:
                query["program"] = program.pk
                query["start_date"] = program.clinic.today().isoformat()
            return f"{add_url}?{urlencode(query)}"

        if latest.decided_level:
            decided, level_label = "decided", latest.get_decided_level_display()
        else:
            decided, level_label = "recommended", latest.get_recommended_level_display()
        program_links = format_html_join(
            " · ",
            '<a href="{}" class="admit-link">{}</a> ({} of {} places free today)',
            ((add_link(p), p.name, places[p.pk]["free_places"], p.capacity) for p in programs),
        )
        return format_html(
            "<p>Level {}: <strong>{}</strong>{}.</p><p>{}</p><p>{}</p>",
            decided,
            level_label,
            f" ({track})" if track else "",
            program_links or "No active program of this level in the clinic.",
            format_html('<a href="{}">{}</a>', add_link(), "Another program…"),
        )

    @admin.display(description="Measures")
    def measures_table(self, patient):
        """Per instrument with responses: its history as a chart (``charts.measure_chart``, the
        bands shaded) and a table of the responses, newest first (one query; the page's opening
        is audited as a whole)."""
        by_instrument = {}
        for response in (
            MeasureResponse.objects.filter(patient=patient)
            .select_related("recorded_by", "enrollment__program")
            .order_by("-completed_at", "-id")
        ):
            by_instrument.setdefault(response.instrument, []).append(response)
        if not by_instrument:
            return "No measures recorded."
        zone = patient.clinic.zone
        parts = []
        for code in INSTRUMENTS:
            responses = by_instrument.get(code)
            if not responses:
                continue
            instrument = INSTRUMENTS[code]
            labels = {band.key: band.label for band in instrument.bands}
            rows = [
                (
                    r.completed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                    r.total
                    if r.total is not None
                    else ", ".join(f"{name} {value}" for name, value in r.subscales.items()),
                    labels.get(r.band, r.band) or "—",
                    "the patient, in the app"
                    if r.source == MeasureSource.PATIENT
                    else (r.recorded_by.get_full_name() or r.recorded_by.get_username()),
                    r.enrollment.program.name if r.enrollment_id else "between stays",
                )
                for r in responses
            ]
            parts.append(
                format_html(
                    '<div class="measure" id="measure-{}"><h3>{}</h3>{}{}</div>',
                    code,
                    instrument.name,
                    charts.measure_chart(instrument, responses),
                    related_table(["Completed", "Score", "Band", "Recorded by", "Stay"], rows),
                )
            )
        return format_html_join("", "{}", ((part,) for part in parts))

    @admin.display(description="Enrollments")
    def care_table(self, patient):
        viewer = getattr(patient, "viewer", None)
        enrollments = list(
            patient.enrollments.select_related("program__clinic").order_by("-start_date", "-id")
        )
        beds = {}
        for assignment in (
            BedAssignment.objects.filter(enrollment__in=enrollments)
            .select_related("bed")
            .order_by("start_date", "id")
        ):
            beds[assignment.enrollment_id] = assignment  # the latest one wins
        with_beds = set(
            Program.beds.through.objects.filter(
                program_id__in={e.program_id for e in enrollments}
            ).values_list("program_id", flat=True)
        )

        summaries = dict(
            DischargeSummary.objects.filter(enrollment__in=enrollments).values_list(
                "enrollment_id", "pk"
            )
        )

        def discharged_cell(enrollment):
            if enrollment.pk not in summaries:
                return enrollment.discharge_date or ""
            url = reverse("admin:programs_dischargesummary_change", args=[summaries[enrollment.pk]])
            return format_html('{} (<a href="{}">summary</a>)', enrollment.discharge_date, url)

        def bed_cell(enrollment):
            assignment = beds.get(enrollment.pk)
            if assignment is None:
                return "—"
            if assignment.end_date:
                return f"{assignment.bed} (until {assignment.end_date})"
            return f"{assignment.bed} (from {assignment.start_date})"

        def steps(enrollment):
            links = []
            if enrollment.status == EnrollmentStatus.WAITLISTED and _may(viewer, "admit"):
                links.append(("admit", "Admit from the waitlist"))
            if enrollment.status == EnrollmentStatus.ADMITTED:
                if enrollment.program_id in with_beds and _may(viewer, "bed"):
                    links.append(("bed", "Assign a bed"))
                if _may(viewer, "transition"):
                    links.append(("transition", "Transition"))
                if _may(viewer, RecordMeasureForm.action):
                    links.append((RecordMeasureForm.action, RecordMeasureForm.title))
            handed_on = (EnrollmentStatus.ADMITTED, EnrollmentStatus.DISCHARGED)
            if enrollment.status in handed_on and _may(viewer, DiscloseForm.action):
                links.append((DiscloseForm.action, DiscloseForm.title))
            return format_html_join(
                " · ",
                '<a href="{}" class="step-{}">{}</a>',
                ((self._step_url(enrollment, step, patient), step, label) for step, label in links),
            )

        return related_table(
            ["Program", "Level", "Status", "From", "Planned end", "Discharged", "Bed", "Next step"],
            [
                (
                    change_link(e, e.program.name),
                    e.get_level_display(),
                    e.get_status_display(),
                    e.start_date,
                    e.planned_end_date,
                    discharged_cell(e),
                    bed_cell(e),
                    steps(e),
                )
                for e in enrollments
            ],
        )

    @admin.display(description="Disclosures")
    def disclosures_table(self, patient):
        return related_table(
            ["Date", "Recipient", "Purpose", "Information", "By", "Consent", "Bundle"],
            [
                (
                    change_link(d, f"{d.disclosed_at:%Y-%m-%d %H:%M} UTC"),
                    f"{d.recipient_name}, {d.recipient_address}"
                    if d.recipient_address
                    else d.recipient_name,
                    d.get_purpose_display(),
                    category_labels(d.categories),
                    d.disclosed_by,
                    change_link(d.consent, d.consent.signed_on),
                    format_html('<a href="{}">FHIR bundle</a>', bundle_url(d)),
                )
                for d in disclosure_list_of_patient(patient=patient).select_related("consent")
            ],
        )

    @admin.display(description="Coverage")
    def coverage_table(self, patient):
        """The patient's payers and each one's authorizations, linked to their pages (where
        utilization review works on them)."""
        authorizations = {}
        for authorization in (
            Authorization.objects.filter(patient=patient)
            .select_related("enrollment__program")
            .order_by("-start_date", "-id")
        ):
            authorizations.setdefault(authorization.coverage_id, []).append(authorization)
        add_coverage = ""
        if _may_write_coverage(getattr(patient, "viewer", None)):
            add_coverage = format_html(
                '<p><a href="{}?{}" class="add-coverage">Add a coverage</a></p>',
                reverse("admin:programs_coverage_add"),
                urlencode({"patient": patient.pk}),
            )
        table = related_table(
            ["Payer", "Priority", "Member id", "From", "Until", "Authorizations"],
            [
                (
                    change_link(c, f"{c.payer} ({c.payer.get_kind_display()})"),
                    c.get_priority_display(),
                    c.member_id,
                    c.start_date,
                    c.end_date or "",
                    format_html_join(
                        " · ",
                        '<a href="{}">{}: {}, {} to {}</a>',
                        (
                            (
                                reverse("admin:programs_authorization_change", args=[a.pk]),
                                a.enrollment.program.name,
                                a.get_status_display(),
                                a.start_date,
                                a.end_date,
                            )
                            for a in authorizations.get(c.pk, [])
                        ),
                    )
                    or ("self-pay" if not c.payer.needs_authorization else "none"),
                )
                for c in coverage_list_of_patient(patient=patient)
            ],
        )
        return format_html("{}{}", add_coverage, table)


def _may_write_coverage(user) -> bool:
    return user is not None and (user.is_superuser or user_has_role(user, *UTILIZATION_WRITE_ROLES))


admin.site.unregister(Patient)
admin.site.register(Patient, PatientCareAdmin)


class ConsentProgramsAdmin(ConsentAdmin):
    """ConsentAdmin offering the staff member's programs as who may disclose; the disclosure
    service refuses a program that is not the patient's clinic's."""

    def discloser_programs(self, request):
        programs = program_list(user=request.user).order_by("clinic__name", "name")
        return [(p.pk, f"{p.name} ({p.clinic})") for p in programs]


admin.site.unregister(Consent)
admin.site.register(Consent, ConsentProgramsAdmin)
