"""E-mail over SMTP (aiosmtplib), configured by `SMTP_URL` and `SMTP_FROM`.

`SMTP_URL` is `smtp://user:pass@host:port` (add `?starttls=true` to upgrade the connection) or
`smtps://...` for TLS from the first byte; `SMTP_CA_FILE` names a CA bundle to verify the
server with (default: the system's). A send that may succeed later (server down, 4xx,
timeout) raises `MailUnavailable`; a recipient the server refuses for good raises `MailRefused`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from shop.runtime.settings import SettingsError


class MailUnavailable(Exception):
    """Sending failed in a way a later attempt may fix."""


class MailRefused(Exception):
    """The server refuses this message for good."""


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    body: str
    message_id: str


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    tls: bool = False
    ca_file: str | None = None
    timeout: float = 5.0  # below the Broker's per-attempt timeout (10 s)

    @classmethod
    def from_url(cls, url: str, sender: str, *, ca_file: str | None = None) -> SmtpSettings:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise SettingsError("SMTP_URL must look like smtp://user:pass@host:port")
        query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
        tls = parts.scheme == "smtps"
        try:
            port = parts.port or (465 if tls else 25)
        except ValueError:
            raise SettingsError("SMTP_URL has an invalid port") from None
        return cls(
            host=parts.hostname,
            port=port,
            sender=sender,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            starttls=query.get("starttls") in {"1", "true", "yes"},
            tls=tls,
            ca_file=ca_file,
        )


def build_message(sender: str, mail: Mail, *, date: str | None = None) -> EmailMessage:
    """The message, its headers set through the e-mail library's header API: `To` is exactly
    one addr-spec, `From` exactly one mailbox, and no header value may hold a line break or any
    other control character. A mail that breaks these is refused for good (`MailRefused`)."""
    message = EmailMessage(policy=SMTP)
    try:
        message["From"] = _one_mailbox(sender)
        message["To"] = Address(addr_spec=mail.to)
        message["Subject"] = _one_line(mail.subject)
        message["Message-ID"] = _one_line(mail.message_id)
        message["Date"] = date or formatdate(usegmt=True)
    except (HeaderParseError, ValueError, IndexError) as exc:
        raise MailRefused(f"The mail's headers are not acceptable: {exc}") from None
    message.set_content(mail.body)
    return message


def _one_line(value: str) -> str:
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValueError("a header value holds a control character")
    return value


def _one_mailbox(value: str) -> Address:
    header = SMTP.header_factory("From", _one_line(value))
    if len(header.addresses) != 1 or header.defects:
        raise ValueError(f"{value!r} is not exactly one mailbox")
    mailbox: Address = header.addresses[0]
    return mailbox


class SmtpMailer:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    async def send(self, mail: Mail) -> None:
        import aiosmtplib

        message = build_message(self.settings.sender, mail)
        s = self.settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password,
                use_tls=s.tls,
                start_tls=s.starttls and not s.tls,
                cert_bundle=s.ca_file,
                timeout=s.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            if all(500 <= error.code < 600 for error in exc.recipients):
                raise MailRefused(str(exc)) from exc
            raise MailUnavailable(str(exc)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600 and exc.code not in {530, 535}:
                raise MailRefused(str(exc)) from exc
            raise MailUnavailable(str(exc)) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailUnavailable(str(exc) or type(exc).__name__) from exc
