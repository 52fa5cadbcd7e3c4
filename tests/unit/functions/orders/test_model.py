from __future__ import annotations

from dataclasses import replace

import pytest

from functions.orders.model import (
    Order,
    OrderLine,
    Wanted,
    check_wanted,
    fingerprint,
)
from shop.runtime.errors import InvalidInput


def line(pid: str, amount: int, quantity: int, currency: str = "EUR") -> OrderLine:
    return OrderLine(pid, f"name {pid}", amount, currency, quantity)


def test_an_order_totals_its_lines_at_the_captured_prices() -> None:
    order = Order.place("o1", "u1", "u1@example.com", [line("a", 250, 3), line("b", 1999, 2)], 7)
    assert (order.status, order.total_amount, order.currency) == ("pending", 4748, "EUR")
    assert order.confirmed_event()["items"][1] == {
        "product_id": "b",
        "name": "name b",
        "unit_price": {"amount": 1999, "currency": "EUR"},
        "quantity": 2,
    }
    assert order.cancelled_event() == {
        "order_id": "o1",
        "user_id": "u1",
        "email": "u1@example.com",
        "total": {"amount": 4748, "currency": "EUR"},
    }


def test_an_order_is_paid_in_one_currency() -> None:
    with pytest.raises(InvalidInput):
        Order.place("o1", "u1", "", [line("a", 1, 1), line("b", 1, 1, "USD")], 0)


def test_pending_orders_are_seen_by_nobody_and_placed_ones_by_owner_and_admin() -> None:
    pending = Order.place("o1", "u1", "", [line("a", 1, 1)], 0)
    confirmed = replace(pending, status="confirmed")
    assert not pending.visible_to("u1", "customer")
    assert confirmed.visible_to("u1", "customer")
    assert confirmed.visible_to("someone", "admin")
    assert not confirmed.visible_to("u2", "customer")


def test_a_product_may_appear_once_per_order() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_wanted([Wanted("a", 1), Wanted("b", 1), Wanted("a", 2)])
    assert [e.field for e in caught.value.errors] == ["items[2].product_id"]
    check_wanted([Wanted("a", 1), Wanted("b", 1)])


def test_the_fingerprint_ignores_line_order_but_not_quantities() -> None:
    one = fingerprint([Wanted("a", 1), Wanted("b", 2)])
    assert one == fingerprint([Wanted("b", 2), Wanted("a", 1)])
    assert one != fingerprint([Wanted("a", 2), Wanted("b", 1)])
