from django.urls import path

from . import inspection_views, views

app_name = "oversight"

# Included under contracts/<int:contract_id>/oversight/ (sekisho/urls.py).
urlpatterns = [
    path("", views.index, name="index"),
    path("requests/new/", views.request_new, name="request-new"),
    path("requests/<int:report_request_id>/", views.request_detail, name="request-detail"),
    path("requests/<int:report_request_id>/answer/", views.request_answer, name="request-answer"),
    path("requests/<int:report_request_id>/<slug:step>/", views.request_step, name="request-step"),
    path("attachments/<int:report_attachment_id>/", views.attachment, name="attachment"),
    path("inspections/new/", inspection_views.inspection_new, name="inspection-new"),
    path("inspections/<int:inspection_id>/", inspection_views.inspection_detail, name="inspection-detail"),
    path(
        "inspections/<int:inspection_id>/report.pdf",
        inspection_views.inspection_document,
        {"fmt": "pdf"},
        name="inspection-pdf",
    ),
    path(
        "inspections/<int:inspection_id>/report.docx",
        inspection_views.inspection_document,
        {"fmt": "docx"},
        name="inspection-docx",
    ),
    path(
        "inspections/<int:inspection_id>/items/<int:inspection_item_id>/",
        inspection_views.item_result,
        name="item",
    ),
    path(
        "inspections/<int:inspection_id>/items/<int:inspection_item_id>/findings/",
        inspection_views.finding_new,
        name="finding-new",
    ),
    path(
        "inspections/<int:inspection_id>/findings/<int:inspection_finding_id>/<slug:step>/",
        inspection_views.finding_step,
        name="finding-step",
    ),
    path(
        "inspections/<int:inspection_id>/<slug:step>/",
        inspection_views.inspection_step,
        name="inspection-step",
    ),
    path("inspectors/", views.inspectors_page, name="inspectors"),
    path("inspectors/<int:inspector_id>/end/", views.inspector_end, name="inspector-end"),
]
