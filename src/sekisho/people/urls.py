from django.urls import path

from . import views

app_name = "people"

urlpatterns = [
    path("", views.index, name="index"),
    path("roster/", views.roster, name="roster"),
    path("roster/add/", views.roster_add, name="roster-add"),
    path("roster.xlsx", views.roster_xlsx, name="roster-xlsx"),
    path("roster/<int:entry_id>/", views.entry_detail, name="entry"),
    path("roster/<int:entry_id>/leave/", views.entry_leave, name="entry-leave"),
    path("roster/<int:entry_id>/exit-acknowledgement/", views.entry_exit_ack, name="entry-exit-ack"),
    path("roster/<int:entry_id>/letter.pdf", views.leaver_letter, name="leaver-letter"),
    path("training/", views.training, name="training"),
    path("training/new/", views.programme_create, name="programme-create"),
    path("training/status/", views.training_status, name="training-status"),
    path("training.xlsx", views.training_xlsx, name="training-xlsx"),
    path("training/<int:programme_id>/", views.programme_detail, name="programme"),
    path(
        "training/<int:programme_id>/acknowledge/", views.programme_acknowledge, name="programme-acknowledge"
    ),
    path("training/<int:programme_id>/version/", views.programme_version, name="programme-version"),
    path("training/<int:programme_id>/configure/", views.programme_configure, name="programme-configure"),
    path("training/<int:programme_id>/session/", views.programme_session, name="programme-session"),
    path("pledge/", views.pledge, name="pledge"),
    path("pledge/appoint/", views.pledge_appoint, name="pledge-appoint"),
    path("pledge/sign/", views.pledge_sign, name="pledge-sign"),
    path("pledge/preview.pdf", views.pledge_preview, name="pledge-preview"),
    path("pledge/<int:version>.pdf", views.pledge_pdf, name="pledge-pdf"),
    path("pledge/<int:version>.docx", views.pledge_docx, name="pledge-docx"),
    path("subcontracts/", views.subcontract_list, name="subcontracts"),
    path("subcontracts/request/", views.subcontract_request, name="subcontract-request"),
    path("subcontracts/<int:sub_id>/", views.subcontract_detail, name="subcontract"),
    path("subcontracts/<int:sub_id>/flowdown/", views.subcontract_flowdown, name="subcontract-flowdown"),
    path(
        "subcontracts/<int:sub_id>/personal-info/",
        views.subcontract_personal_info,
        name="subcontract-personal-info",
    ),
]
