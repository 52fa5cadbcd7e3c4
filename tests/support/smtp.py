"""A real SMTP server (aiosmtpd) in a thread, recording what it receives; it can go down."""

from __future__ import annotations

import ssl
import threading
import time
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.services import free_port


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.sink.lock:
            self.sink.messages.append(message_from_bytes(envelope.content))
            self.sink.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class SmtpSink:
    """`credentials` (user, password) makes the server require AUTH (PLAIN or LOGIN)."""

    def __init__(
        self,
        credentials: tuple[str, str] | None = None,
        *,
        starttls: ssl.SSLContext | None = None,
    ) -> None:
        """`starttls`: offer STARTTLS with this context and refuse mail without it."""
        self.credentials = credentials
        self.starttls = starttls
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.messages: list[Message] = []
        self.recipients: list[list[str]] = []
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> None:
        auth: dict[str, Any] = {}
        if self.starttls is not None:
            auth = {"tls_context": self.starttls, "require_starttls": True}
        if self.credentials is not None:
            auth |= {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": False,
            }
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **auth)
        self._controller.start()

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        wanted = self.credentials
        ok = isinstance(data, LoginPassword) and wanted is not None
        ok = ok and (data.login.decode(), data.password.decode()) == wanted
        return AuthResult(success=ok, handled=False)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.01)
        raise TimeoutError(f"{len(self.messages)} of {count} e-mails arrived")
