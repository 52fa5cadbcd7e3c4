"""The events the shop's producers send, as test data, and a JWKS endpoint for their consumers."""

from __future__ import annotations

import json
from typing import Any

from shop.events.ce import CloudEvent, new_event
from tests.support.recorder import Recorder, Reply
from tests.support.tokens import TokenFactory


def order_data(order_id: str = "o1", user_id: str = "u1") -> dict[str, Any]:
    """`shop.order.confirmed.v1` data, as orders sends it (api.md, Events)."""
    return {
        "order_id": order_id,
        "user_id": user_id,
        "email": f"{user_id}@example.com",
        "items": [
            {
                "product_id": "p1",
                "name": "Tea",
                "quantity": 2,
                "unit_price": {"amount": 450, "currency": "EUR"},
            }
        ],
        "total": {"amount": 900, "currency": "EUR"},
    }


def confirmed(order_id: str = "o1", user_id: str = "u1") -> CloudEvent:
    data = order_data(order_id, user_id)
    return new_event("shop.order.confirmed.v1", "/orders", data, subject=order_id)


def jwks_server(tokens: TokenFactory) -> Recorder:
    """An HTTP server answering every request with `tokens`' JWKS (use it as a context)."""
    body = json.dumps(tokens.keys.jwks()).encode()
    return Recorder(respond=lambda _: Reply(200, body, {"content-type": "application/json"}))
