"""A URL conf for tests/ops_prod/test_logs.py: a view that writes a log line of its own."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.urls import path


def logging_view(request: HttpRequest) -> HttpResponse:
    logging.getLogger("sekisho.test").warning("inside the view")
    return HttpResponse("ok")


urlpatterns = [path("log-something/", logging_view)]
