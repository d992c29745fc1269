from django.urls import path

from . import views

app_name = "incidents"

urlpatterns = [
    path("incidents/", views.orderer_list, name="orderer-list"),
    path("contracts/<int:contract_id>/incidents/", views.incident_list, name="list"),
    path("contracts/<int:contract_id>/incidents/new/", views.incident_report, name="report"),
    path("contracts/<int:contract_id>/incidents/settings/", views.incident_settings, name="settings"),
    path("contracts/<int:contract_id>/incidents/<int:incident_id>/", views.incident_detail, name="detail"),
    path(
        "contracts/<int:contract_id>/incidents/<int:incident_id>/report.pdf",
        views.incident_document,
        {"fmt": "pdf"},
        name="report-pdf",
    ),
    path(
        "contracts/<int:contract_id>/incidents/<int:incident_id>/report.docx",
        views.incident_document,
        {"fmt": "docx"},
        name="report-docx",
    ),
    path(
        "contracts/<int:contract_id>/incidents/<int:incident_id>/<slug:step>/",
        views.incident_step,
        name="step",
    ),
]
