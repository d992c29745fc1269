import os

from django.http import JsonResponse
from django.urls import include, path
from django.views.i18n import set_language

from sekisho.api.main import api
from sekisho.obs.views import metrics_view

urlpatterns = [
    path("api/v1/", api.urls),
    path("i18n/setlang/", set_language, name="set_language"),
    path("metrics", metrics_view, name="metrics"),
    path("", include("sekisho.devices.urls")),
    path("contracts/<int:contract_id>/ledger/", include("sekisho.ledger.urls")),
    path("contracts/<int:contract_id>/permits/", include("sekisho.permits.urls")),
    path("contracts/<int:contract_id>/vault/", include("sekisho.vault.urls")),
    path("contracts/<int:contract_id>/people/", include("sekisho.people.urls")),
    path("contracts/<int:contract_id>/oversight/", include("sekisho.oversight.urls")),
    path("", include("sekisho.incidents.urls")),
    path("", include("sekisho.closeout.urls")),
    path("", include("sekisho.compliance.urls")),
    path("", include("sekisho.notifications.urls")),
    path("", include("sekisho.web.urls")),
]

if os.environ.get("SEKISHO_BENCH") == "1":
    # bench/bench_load.py's baseline: the cheapest JSON view behind the same middleware, on the same server.
    # Never routed unless the benchmark starts the server with SEKISHO_BENCH=1.
    urlpatterns.append(path("__bench/ping", lambda request: JsonResponse({"ok": True}), name="bench-ping"))
