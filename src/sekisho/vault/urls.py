"""Pages of the vault, under /contracts/<contract_id>/vault/ (see sekisho/urls.py)."""

from django.urls import path

from . import views

app_name = "vault"

urlpatterns = [
    path("", views.vault_list, name="list"),
    path("transfers/", views.transfer_list, name="transfers"),
    path("transfers/<int:transfer_id>/receipt/", views.transfer_receipt, name="receipt"),
]
