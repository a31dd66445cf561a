from django.urls import path

from programs.api import reports

urlpatterns = [
    path("reports/census/", reports.CensusView.as_view(), name="report-census"),
    path("reports/step-down/", reports.StepDownBoardView.as_view(), name="report-step-down"),
]
