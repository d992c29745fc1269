"""Observability: structured logs (``logs``), Prometheus metrics (``metrics``) and the request middleware that
feeds both (``middleware``). Nothing here changes state; none of it is an app (no models)."""
