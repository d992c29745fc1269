from django.urls import path

from . import views

app_name = "closeout"

urlpatterns = [
    path("contracts/<int:contract_id>/closeout/", views.checklist, name="checklist"),
    path("contracts/<int:contract_id>/closeout/open/", views.open_checklist, name="open"),
    path("contracts/<int:contract_id>/closeout/bulk/", views.bulk, name="bulk"),
    path("contracts/<int:contract_id>/closeout/shred/", views.shred, name="shred"),
    path("contracts/<int:contract_id>/closeout/inbox/", views.inbox, name="inbox"),
    path("contracts/<int:contract_id>/closeout/inbox/decide/", views.decide, name="decide"),
    path(
        "contracts/<int:contract_id>/closeout/certificate/issue/",
        views.certificate_issue,
        name="certificate-issue",
    ),
    path(
        "contracts/<int:contract_id>/closeout/certificate/confirm/",
        views.certificate_confirm,
        name="certificate-confirm",
    ),
    path(
        "contracts/<int:contract_id>/closeout/certificate.pdf",
        views.certificate_download,
        {"fmt": "pdf"},
        name="certificate-pdf",
    ),
    path(
        "contracts/<int:contract_id>/closeout/certificate.docx",
        views.certificate_download,
        {"fmt": "docx"},
        name="certificate-docx",
    ),
    path("contracts/<int:contract_id>/plan/", views.plan_page, name="plan"),
    path("contracts/<int:contract_id>/plan.pdf", views.plan_download, {"fmt": "pdf"}, name="plan-pdf"),
    path("contracts/<int:contract_id>/plan.docx", views.plan_download, {"fmt": "docx"}, name="plan-docx"),
]
