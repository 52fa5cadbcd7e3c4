from __future__ import annotations

import pytest

from functions.notifications.mailer import SmtpSettings
from functions.notifications.settings import NotificationsSettings
from shop.runtime.settings import SettingsError


def test_smtp_url_carries_credentials_port_and_tls_choice() -> None:
    plain = SmtpSettings.from_url("smtp://mailer:s%40cret@mail.internal:2525", "shop <a@b.co>")
    assert (plain.host, plain.port, plain.username, plain.password) == (
        "mail.internal",
        2525,
        "mailer",
        "s@cret",
    )
    assert (plain.starttls, plain.tls) == (False, False)
    assert SmtpSettings.from_url("smtp://h?starttls=true", "x").starttls is True
    implicit = SmtpSettings.from_url("smtps://h", "x")
    assert (implicit.tls, implicit.port) == (True, 465)
    assert SmtpSettings.from_url("smtp://h", "x").port == 25


@pytest.mark.parametrize("url", ["http://h:25", "smtp://", "smtp://h:port"])
def test_bad_smtp_urls_are_refused(url: str) -> None:
    with pytest.raises(SettingsError):
        SmtpSettings.from_url(url, "x")


def test_without_smtp_url_there_is_no_email_channel() -> None:
    settings = NotificationsSettings.from_environ({"SHOP_DATA_DIR": "data"})
    assert settings.smtp is None
    assert settings.database.url.endswith("notifications.db")
    configured = NotificationsSettings.from_environ(
        {
            "SMTP_URL": "smtp://h:25",
            "SMTP_FROM": "Shop <shop@example.com>",
            "SMTP_CA_FILE": "ca.pem",
        }
    )
    assert configured.smtp is not None
    assert configured.smtp.sender == "Shop <shop@example.com>"
    assert configured.smtp.ca_file == "ca.pem"
