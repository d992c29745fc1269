from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from . import metrics


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for ``SEKISHO_METRICS_ALLOWED_IPS`` or the ``SEKISHO_METRICS_TOKEN`` bearer."""
    if not metrics.scrape_allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain; charset=utf-8")
    return HttpResponse(metrics.render(), content_type=metrics.CONTENT_TYPE)
