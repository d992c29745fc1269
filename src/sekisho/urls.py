from django.urls import include, path
from django.views.i18n import set_language

from sekisho.api.main import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("i18n/setlang/", set_language, name="set_language"),
    path("", include("sekisho.devices.urls")),
    path("contracts/<int:contract_id>/ledger/", include("sekisho.ledger.urls")),
    path("contracts/<int:contract_id>/permits/", include("sekisho.permits.urls")),
    path("", include("sekisho.web.urls")),
]
