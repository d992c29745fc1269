"""Pages of permits, under /contracts/<contract_id>/permits/ (see sekisho/urls.py)."""

from django.urls import path

from . import views

app_name = "permits"

urlpatterns = [
    path("", views.permit_list, name="list"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/badge/", views.inbox_badge, name="inbox-badge"),
    path("new/", views.permit_request, name="request"),
    path("<int:permit_id>/", views.permit_detail, name="detail"),
    path("<int:permit_id>/decide/", views.permit_decide, name="decide"),
    path("<int:permit_id>/revoke/", views.permit_revoke, name="revoke"),
]
