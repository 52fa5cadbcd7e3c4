"""Issue 10, item 8: mail headers are built with the e-mail library's header API. A mail for a
hostile-looking but valid input has exactly the expected headers when its bytes are parsed back;
one that would add a header line or a second recipient is refused for good."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest

from functions.notifications.mailer import Mail, MailRefused, build_message
from functions.notifications.model import UnusableEvent, compose

SENDER = "shop <noreply@shop.example>"
DATE = "Mon, 30 Nov 2026 10:00:00 -0000"
# Valid, but full of what header parsers care about: quotes, plus, commas, angle brackets,
# semicolons and non-ASCII text.
TO = "o'neil+bcc.root@mail.example.co.uk"
SUBJECT = 'Welcome, o\'neil, <root@evil.example>; "Bcc: x" Élan'


def parsed(mail: Mail) -> tuple[list[tuple[str, str]], str]:
    raw = build_message(SENDER, mail, date=DATE).as_bytes()
    message = BytesParser(policy=policy.default).parsebytes(raw)
    body = message.get_content()
    return [(k, str(v)) for k, v in message.items()], body


def test_a_hostile_looking_valid_mail_has_exactly_the_expected_headers() -> None:
    headers, body = parsed(Mail(TO, SUBJECT, "Hello\nBcc: not a header\n", "<m1@shop.example>"))
    assert [name for name, _ in headers] == [
        "From",
        "To",
        "Subject",
        "Message-ID",
        "Date",
        "Content-Type",
        "Content-Transfer-Encoding",
        "MIME-Version",
    ]
    values = dict(headers)
    assert values["From"] == SENDER
    assert values["To"] == TO
    assert values["Subject"] == SUBJECT
    assert values["Message-ID"] == "<m1@shop.example>"
    assert body.splitlines() == ["Hello", "Bcc: not a header"]


@pytest.mark.parametrize(
    ("to", "subject"),
    [
        ("a@b.cc,root", "Welcome"),
        ("a@b.cc, c@d.ee", "Welcome"),
        ("Bob <bob@example.com>", "Welcome"),
        ("bob@example.com\n", "Welcome"),
        ("bob@example.com\r\nBcc: x@y.zz", "Welcome"),
        ("bob@example.com", "Welcome, admin\n"),
        ("bob@example.com", "Welcome\r\nBcc: x@y.zz"),
        ("bob@example.com", "Welcome\x00"),
    ],
)
def test_a_mail_that_would_break_its_headers_is_refused_for_good(to: str, subject: str) -> None:
    with pytest.raises(MailRefused):
        build_message(SENDER, Mail(to, subject, "body", "<m1@shop.example>"))


@pytest.mark.parametrize("sender", ["a@b.cc, c@d.ee", "shop <a@b.cc>\r\nBcc: x@y.zz", ""])
def test_a_sender_that_is_not_one_mailbox_is_refused(sender: str) -> None:
    with pytest.raises(MailRefused):
        build_message(sender, Mail(TO, "Welcome", "body", "<m1@shop.example>"))


@pytest.mark.parametrize(
    "data",
    [
        {"user_id": "u1", "username": "admin\n", "email": "a@b.co"},
        {"user_id": "u1", "username": "admin\r\nBcc: x@y.zz", "email": "a@b.co"},
        {"user_id": "u1", "username": "ann", "email": "bob@example.com\n"},
        {"user_id": "u1", "username": "ann", "email": "a@b.cc,root"},
        {"user_id": "u1", "username": "ann", "email": "Ann <a@b.co>"},
        {"user_id": "u\x00", "username": "ann", "email": "a@b.co"},
    ],
)
def test_an_event_whose_data_would_break_a_mail_is_unusable(data: dict[str, str]) -> None:
    with pytest.raises(UnusableEvent):
        compose("shop.user.registered.v1", "/users", data)
