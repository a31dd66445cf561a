"""The programs' API under ``/api/v1/``: programs, enrollments and transitions, aftercare plans,
the census and step-down reports, disclosures with their FHIR bundles, payers, coverage and
authorizations with their reviews and the UR queue (utilization review), the admissions
desk's inquiries with their referral sources, callback requests and report, and the patient's own
enrollments, aftercare and accounting of disclosures (``me/...``); measurement-based care's
responses, orders and schedules, and the patient's own measures (``me/measures/``); progress
notes of sessions (group and individual), signed, co-signed and amended."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from programs.api import (
    admission_holds,
    aftercare,
    authorizations,
    discharge_summaries,
    disclosures,
    follow_ups,
    inquiries,
    inquiry_followup,
    me,
    measures,
    notes,
    notes_due,
    reports,
    ur_queue,
    views,
)

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("programs", views.ProgramViewSet, basename="program")
router.register("enrollments", views.EnrollmentViewSet, basename="enrollment")
router.register("transitions", views.TransitionViewSet, basename="transition")
router.register("aftercare-plans", aftercare.AftercarePlanViewSet, basename="aftercare-plan")
router.register("payers", authorizations.PayerViewSet, basename="payer")
router.register("authorizations", authorizations.AuthorizationViewSet, basename="authorization")
router.register("inquiries", inquiries.InquiryViewSet, basename="inquiry")
router.register("referral-sources", inquiries.ReferralSourceViewSet, basename="referral-source")
router.register("measures", measures.MeasureResponseViewSet, basename="measure")
router.register("measure-orders", measures.MeasureOrderViewSet, basename="measure-order")
router.register("measure-schedules", measures.MeasureScheduleViewSet, basename="measure-schedule")
router.register(
    "discharge-summaries",
    discharge_summaries.DischargeSummaryViewSet,
    basename="discharge-summary",
)
router.register("follow-up-tasks", follow_ups.FollowUpTaskViewSet, basename="follow-up-task")
router.register("progress-notes", notes.ProgressNoteViewSet, basename="progress-note")

# The pipeline's later steps on one inquiry, beside the inquiry's own routes.
_inquiry_step = admission_holds.InquiryAdmissionViewSet.as_view

urlpatterns = [
    *router.urls,
    path(
        "inquiries/<int:pk>/schedule/",
        _inquiry_step({"post": "schedule"}),
        name="inquiry-schedule",
    ),
    path("inquiries/<int:pk>/close/", _inquiry_step({"post": "close"}), name="inquiry-close"),
    path("inquiries/<int:pk>/convert/", _inquiry_step({"post": "convert"}), name="inquiry-convert"),
    path("reports/census/", reports.CensusView.as_view(), name="report-census"),
    path("reports/step-down/", reports.StepDownBoardView.as_view(), name="report-step-down"),
    path("me/enrollments/", me.MyEnrollmentsView.as_view(), name="me-enrollments"),
    path("me/aftercare-plan/", me.MyAftercarePlanView.as_view(), name="me-aftercare-plan"),
    path("me/check-ins/", me.MyCheckInsView.as_view(), name="me-check-ins"),
    path("me/measures/", measures.MyMeasuresView.as_view(), name="me-measures"),
    path(
        "patients/<int:pk>/disclosures/",
        disclosures.PatientDisclosuresView.as_view(),
        name="patient-disclosures",
    ),
    path(
        "disclosures/<int:pk>/bundle/",
        disclosures.DisclosureBundleView.as_view(),
        name="disclosure-bundle",
    ),
    path(
        "patients/<int:pk>/coverages/",
        authorizations.PatientCoveragesView.as_view(),
        name="patient-coverages",
    ),
    path(
        "coverages/<int:pk>/", authorizations.CoverageDetailView.as_view(), name="coverage-detail"
    ),
    path("me/disclosures/", disclosures.MyDisclosuresView.as_view(), name="me-disclosures"),
    path("ur/queue/", ur_queue.URQueueView.as_view(), name="ur-queue"),
    path(
        "inquiries/<int:pk>/callback-requests/",
        inquiry_followup.InquiryCallbackRequestsView.as_view(),
        name="inquiry-callback-requests",
    ),
    path("reports/admissions/", reports.AdmissionsReportView.as_view(), name="report-admissions"),
    path("reports/outcomes/", reports.OutcomesReportView.as_view(), name="report-outcomes"),
    path(
        "discharge-summaries/<int:pk>/pdf/",
        discharge_summaries.DischargeSummaryPdfView.as_view(),
        name="discharge-summary-pdf",
    ),
    path(
        "me/discharge-summary/",
        discharge_summaries.MyDischargeSummaryView.as_view(),
        name="me-discharge-summary",
    ),
    path(
        "me/discharge-summary/pdf/",
        discharge_summaries.MyDischargeSummaryPdfView.as_view(),
        name="me-discharge-summary-pdf",
    ),
    path("reports/continuity/", reports.ContinuityReportView.as_view(), name="report-continuity"),
    path(
        "sessions/<int:pk>/group-note/",
        notes.SessionGroupNoteView.as_view(),
        name="session-group-note",
    ),
    path(
        "sessions/<int:pk>/progress-notes/",
        notes.SessionProgressNotesView.as_view(),
        name="session-progress-notes",
    ),
    path("notes-due/", notes_due.NotesDueView.as_view(), name="notes-due"),
]
