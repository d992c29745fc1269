"""Pages of the ledger, under /contracts/<contract_id>/ledger/ (see sekisho/urls.py)."""

from django.urls import path

from . import views

app_name = "ledger"

urlpatterns = [
    path("", views.asset_list, name="list"),
    path("new/", views.asset_register, name="register"),
    path("import/", views.asset_import, name="import"),
    path("<int:asset_id>/", views.asset_detail, name="detail"),
]
