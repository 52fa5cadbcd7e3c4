"""Issue 10, item 8, over a real SMTP server: a welcome mail for a hostile-looking but valid
account reaches exactly its one recipient with exactly the expected headers, and a recipient
list smuggled into the address never reaches the server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from functions.notifications.mailer import Mail, MailRefused, SmtpMailer, SmtpSettings
from functions.notifications.model import compose
from tests.support.smtp import SmtpSink

SENDER = "shop <noreply@shop.example>"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def mailer(smtp: SmtpSink) -> SmtpMailer:
    return SmtpMailer(SmtpSettings.from_url(smtp.url, SENDER))


async def test_a_welcome_mail_reaches_one_recipient_with_exactly_its_headers(
    smtp: SmtpSink,
) -> None:
    address = "o'neil+root.bcc@mail.example.co.uk"
    draft = compose(
        "shop.user.registered.v1",
        "/users",
        {"user_id": "u1", "username": "o.neil_bcc-root", "email": address},
    )
    await mailer(smtp).send(Mail(draft.email, draft.subject, draft.body, "<w1@shop.example>"))
    [message] = smtp.wait_for(1)
    assert smtp.recipients == [[address]]
    assert sorted(message.keys()) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Message-ID",
            "Date",
            "Content-Type",
            "Content-Transfer-Encoding",
            "MIME-Version",
        ]
    )
    assert (message["To"], message["Subject"]) == (address, "Welcome, o.neil_bcc-root")
    assert "your account is ready" in message.get_payload()


@pytest.mark.parametrize(
    "to", ["a@b.cc,root@shop.example", "bob@example.com\nBcc: root@shop.example"]
)
async def test_a_smuggled_recipient_never_reaches_the_server(smtp: SmtpSink, to: str) -> None:
    with pytest.raises(MailRefused):
        await mailer(smtp).send(Mail(to, "Welcome", "body", "<w2@shop.example>"))
    assert smtp.recipients == []
