"""A small SMTP server on 127.0.0.1 for the tests: it keeps what it receives and refuses the recipients it is
told to refuse (550), so the real SMTP path — Django's SMTP backend in a real ``sekisho db_worker`` — is
exercised end to end, failures included."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class Mailbox:
    refuse: set[str] = field(default_factory=set)
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address in m.recipients]


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def _reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        box = self.server.mailbox
        sender, recipients = "", []
        self._reply("220 sekisho-test ESMTP")
        while raw := self.rfile.readline(65536):
            command = raw.decode("utf-8", "replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self._reply("250 sekisho-test")
            elif verb == "MAIL":
                sender, recipients = command.split(":", 1)[1].strip().strip("<>").split(">")[0], []
                self._reply("250 OK")
            elif verb == "RCPT":
                address = command.split(":", 1)[1].strip().split(">")[0].strip("<")
                if address in box.refuse:
                    self._reply("550 5.1.1 no such mailbox")
                else:
                    recipients.append(address)
                    self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 go ahead")
                data = b""
                while (line := self.rfile.readline(65536)) not in (b".\r\n", b".\n", b""):
                    data += line
                with box.lock:
                    box.messages.append(Received(sender, recipients, data))
                self._reply("250 OK queued")
            elif verb == "RSET":
                sender, recipients = "", []
                self._reply("250 OK")
            elif verb == "NOOP":
                self._reply("250 OK")
            elif verb == "QUIT":
                self._reply("221 bye")
                return
            else:
                self._reply("502 not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    mailbox: Mailbox


@contextmanager
def smtp_server(refuse: set[str] | None = None) -> Iterator[tuple[int, Mailbox]]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.mailbox = Mailbox(refuse=set(refuse or ()))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.mailbox
    finally:
        server.shutdown()
        server.server_close()
