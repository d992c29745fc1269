from django.urls import path

from . import views

app_name = "compliance"

urlpatterns = [
    path("compliance/", views.orderer_overview, name="orderer"),
    path("contracts/<int:contract_id>/compliance/", views.contract_compliance, name="contract"),
    path("contracts/<int:contract_id>/compliance/evaluate/", views.evaluate, name="evaluate"),
    path("contracts/<int:contract_id>/compliance/profile/", views.profile_page, name="profile"),
    path(
        "contracts/<int:contract_id>/compliance/report.pdf", views.report, {"fmt": "pdf"}, name="report-pdf"
    ),
    path(
        "contracts/<int:contract_id>/compliance/report.docx",
        views.report,
        {"fmt": "docx"},
        name="report-docx",
    ),
]
