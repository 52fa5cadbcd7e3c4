from __future__ import annotations

from typing import Any

import pytest

from functions.notifications.model import UnusableEvent, compose, money
from shop.money import Money
from tests.support.events import order_data

ORDER = order_data()


def test_each_event_type_tells_its_user_what_happened() -> None:
    registered = compose(
        "shop.user.registered.v1", "/users", {"user_id": "u1", "username": "ann", "email": "a@b.co"}
    )
    confirmed = compose("shop.order.confirmed.v1", "/orders", ORDER)
    cancelled = compose("shop.order.cancelled.v1", "/orders", {**ORDER, "items": None})
    assert (registered.kind, registered.user_id, registered.email) == (
        "account_registered",
        "u1",
        "a@b.co",
    )
    assert confirmed.subject == "Order o1 confirmed"
    assert "2 x Tea at 4.50 EUR" in confirmed.body
    assert "Total: 9.00 EUR" in confirmed.body
    assert cancelled.kind == "order_cancelled"
    assert "9.00 EUR" in cancelled.body


def test_the_recipient_comes_from_the_event_and_extra_fields_are_fine() -> None:
    draft = compose("shop.order.confirmed.v1", "/orders", {**ORDER, "coupon": "X"})
    assert draft.email == "u1@example.com"


@pytest.mark.parametrize(
    ("event_type", "source", "data"),
    [
        ("shop.order.shipped.v1", "/orders", ORDER),
        ("shop.order.confirmed.v1", "/users", ORDER),
        ("shop.order.confirmed.v1", "/orders", {**ORDER, "email": "not-an-address"}),
        ("shop.order.confirmed.v1", "/orders", {k: v for k, v in ORDER.items() if k != "user_id"}),
        ("shop.order.confirmed.v1", "/orders", [ORDER]),
        ("shop.order.confirmed.v1", "/orders", b"\x00"),
        ("shop.user.registered.v1", "/users", {"user_id": "u1", "email": "a@b.co"}),
    ],
)
def test_events_that_can_never_be_used_are_refused(event_type: str, source: str, data: Any) -> None:
    with pytest.raises(UnusableEvent):
        compose(event_type, source, data)


def test_money_is_shown_in_major_units() -> None:
    assert money(Money(1999, "EUR")) == "19.99 EUR"
    assert money(Money(5, "USD")) == "0.05 USD"
    assert money(Money(500, "JPY")) == "500 JPY"
