"""``sekisho serve``: the production server (gunicorn), static files included (WhiteNoise).

Every option has an environment variable, so a systemd unit or a container sets them in one env file
(deploy/sekisho.env.example; docs/admin/install.*). Before binding, the deployment checks run
(``sekisho check --deploy``, core/checks.py): an error stops the server — unless it is a loopback-only
demonstration (every bind address *and* every allowed host on this machine, as ``make run`` serves) or
``--insecure-dev`` says so explicitly; then the errors are printed as warnings.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

log = logging.getLogger("sekisho.serve")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise CommandError(f"{name} must be an integer, got {raw!r}") from exc


def _is_loopback_bind(address: str) -> bool:
    from sekisho.core.checks import is_loopback_host

    if address.startswith(("unix:", "fd://")):
        return False  # a socket for a reverse proxy: production
    host = address.rsplit(":", 1)[0] if ":" in address else address
    return is_loopback_host(host)


class Command(BaseCommand):
    help = (
        "Serve Sekisho with gunicorn (static files included). Refuses to start when `check --deploy` finds "
        "an error, except for a loopback-only demonstration or with --insecure-dev."
    )
    requires_system_checks: list[str] = []  # our own, with the deployment checks, below

    def add_arguments(self, parser: CommandParser) -> None:
        env = os.environ.get
        parser.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=None, help="port (default 8000)")
        parser.add_argument(
            "--bind",
            action="append",
            default=None,
            help="HOST:PORT or unix:/path (repeatable; env SEKISHO_BIND, comma-separated). Overrides --host/--port.",
        )
        parser.add_argument(
            "--workers", type=int, default=None, help="worker processes (env SEKISHO_WORKERS, default 2)"
        )
        parser.add_argument(
            "--threads", type=int, default=None, help="threads per worker (env SEKISHO_THREADS, default 4)"
        )
        parser.add_argument(
            "--timeout",
            type=int,
            default=None,
            help="seconds a silent worker lives before it is restarted (env SEKISHO_TIMEOUT, default 60)",
        )
        parser.add_argument(
            "--graceful-timeout",
            type=int,
            default=None,
            help="seconds to finish requests on stop or restart (env SEKISHO_GRACEFUL_TIMEOUT, default 30)",
        )
        parser.add_argument(
            "--keepalive",
            type=int,
            default=None,
            help="seconds to keep an idle connection (env SEKISHO_KEEPALIVE, default 5)",
        )
        parser.add_argument(
            "--max-requests",
            type=int,
            default=None,
            help="restart a worker after this many requests; 0: never (env SEKISHO_MAX_REQUESTS, default 0)",
        )
        parser.add_argument(
            "--max-requests-jitter",
            type=int,
            default=None,
            help="random extra requests before that restart (env SEKISHO_MAX_REQUESTS_JITTER, default 0)",
        )
        parser.add_argument(
            "--forwarded-allow-ips",
            default=None,
            help="reverse proxies trusted for X-Forwarded-* (env SEKISHO_FORWARDED_ALLOW_IPS, "
            "default 127.0.0.1,::1)",
        )
        parser.add_argument(
            "--insecure-dev",
            action="store_true",
            default=env("SEKISHO_INSECURE_DEV", "") in ("1", "true", "yes", "on"),
            help="start even when the deployment checks fail (never in production)",
        )

    # --- configuration --------------------------------------------------------------------------------------

    def _binds(self, options: dict[str, Any]) -> list[str]:
        if options["bind"]:
            return list(options["bind"])
        if options["host"] is None and options["port"] is None and os.environ.get("SEKISHO_BIND", "").strip():
            return [b.strip() for b in os.environ["SEKISHO_BIND"].split(",") if b.strip()]
        host = options["host"] or "127.0.0.1"
        port = options["port"] if options["port"] is not None else 8000
        return [f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"]

    @staticmethod
    def _number(options: dict[str, Any], name: str, env: str, default: int, minimum: int = 0) -> int:
        value = options[name] if options[name] is not None else _env_int(env, default)
        if value < minimum:
            raise CommandError(f"--{name.replace('_', '-')} must be at least {minimum}")
        return int(value)

    def _config(self, options: dict[str, Any]) -> dict[str, Any]:
        forwarded = options["forwarded_allow_ips"]
        if forwarded is None:
            forwarded = ",".join(settings.SEKISHO_FORWARDED_ALLOW_IPS)
        return {
            "bind": self._binds(options),
            "workers": self._number(options, "workers", "SEKISHO_WORKERS", 2, 1),
            "threads": self._number(options, "threads", "SEKISHO_THREADS", 4, 1),
            "timeout": self._number(options, "timeout", "SEKISHO_TIMEOUT", 60, 1),
            "graceful_timeout": self._number(options, "graceful_timeout", "SEKISHO_GRACEFUL_TIMEOUT", 30, 1),
            "keepalive": self._number(options, "keepalive", "SEKISHO_KEEPALIVE", 5),
            "max_requests": self._number(options, "max_requests", "SEKISHO_MAX_REQUESTS", 0),
            "max_requests_jitter": self._number(
                options, "max_requests_jitter", "SEKISHO_MAX_REQUESTS_JITTER", 0
            ),
            "forwarded_allow_ips": forwarded,
        }

    # --- the deployment checks ------------------------------------------------------------------------------

    def _say(self, level: int, text: str) -> None:
        if settings.SEKISHO_LOG_FORMAT == "json":
            log.log(level, text)
        else:
            (self.stderr if level >= logging.WARNING else self.stdout).write(text)

    def _check(self, binds: list[str], insecure_dev: bool) -> None:
        from django.core.checks import CheckMessage

        from sekisho.core.checks import deploy_messages, loopback_only

        def describe(m: CheckMessage) -> str:
            return f"{m.id}: {m.msg}" + (f"\n\tHINT: {m.hint}" if m.hint else "")

        messages = deploy_messages()
        errors = [m for m in messages if m.is_serious()]
        for m in messages:
            if not m.is_serious() and str(m.id).startswith("sekisho."):
                self._say(logging.WARNING, "deployment check warning " + describe(m))
        if not errors:
            return
        listing = "\n".join(describe(m) for m in errors)
        local = all(_is_loopback_bind(b) for b in binds) and loopback_only()
        if insecure_dev or local:
            why = "--insecure-dev" if insecure_dev else "a loopback-only demonstration"
            self._say(
                logging.WARNING,
                f"The deployment checks failed; serving anyway ({why}), never do this in production:\n{listing}",
            )
            return
        refusal = (
            "The deployment checks failed, so Sekisho will not serve:\n"
            f"{listing}\n"
            "Fix the settings above (`sekisho check --deploy` repeats these checks). For a demonstration on "
            "this machine only, bind to 127.0.0.1 with SEKISHO_ALLOWED_HOSTS on loopback, or pass --insecure-dev."
        )
        if settings.SEKISHO_LOG_FORMAT == "json":
            log.critical(refusal)  # for the log collector; the command's own error line follows
        raise CommandError(refusal)

    # --- serving --------------------------------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        # What the server creates on its own (vault directories, keys, partial uploads, metrics files) is for
        # its own user only, whatever umask it was started with.
        os.umask(0o077)
        config = self._config(options)
        # The ordinary system checks run with the deployment ones: an error in either stops the server.
        self._check(config["bind"], options["insecure_dev"])

        from django.db import connections
        from gunicorn.app.base import BaseApplication

        from sekisho.obs.server import GunicornLogger, MetricsHooks, prepare_metrics_dir
        from sekisho.wsgi import application

        hooks = MetricsHooks(prepare_metrics_dir(settings.SEKISHO_METRICS_DIR))
        connections.close_all()  # the workers open their own; none is shared across a fork

        class _Server(BaseApplication):
            def load_config(self) -> None:
                for name, value in config.items():
                    self.cfg.set(name, value)
                self.cfg.set("accesslog", None)  # sekisho.request writes a richer line per request
                self.cfg.set("errorlog", "-")
                self.cfg.set("logger_class", GunicornLogger)
                self.cfg.set("proc_name", "sekisho")
                self.cfg.set("control_socket_disable", True)  # no runtime control socket in $HOME
                self.cfg.set("pre_fork", hooks.pre_fork)
                self.cfg.set("post_fork", hooks.post_fork)
                self.cfg.set("on_exit", hooks.on_exit)

            def load(self) -> Any:
                return application

        for bind in config["bind"]:
            url = bind if bind.startswith("unix:") else f"http://{bind}/"
            self._say(
                logging.INFO, f"Sekisho: {url} ({config['workers']} workers x {config['threads']} threads)"
            )
        _Server().run()
