"""The products service's stock API, as the orders function sees it (an adapter over the
shared service client). Every call is keyed by the order id, so every call may be retried."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.orders.batches import Batched
from functions.orders.model import CONFIRMED, OrderLine, Wanted
from shop.auth import service_token
from shop.http.clients import ServiceClients
from shop.runtime.errors import Conflict, FieldError, InvalidInput, NotFound, Unavailable


class OutOfStock(Conflict):
    title = "Out of stock"


class Rejected(Conflict):
    """The reservation is not in a state that allows the step (expired, released...)."""


@dataclass(frozen=True, slots=True)
class Reservation:
    order_id: str
    state: str
    lines: list[OrderLine]


Answer = tuple[int, dict[str, Any]]


class ProductsStock:
    """Reserves and confirms go in batches (`functions.orders.batches`): the calls of
    concurrent placements share one HTTP request each."""

    def __init__(self, clients: ServiceClients, token: str) -> None:
        self.clients = clients
        self.headers = {service_token.HEADER: token}
        self._reserve = Batched(self._reserve_all)
        self._confirm = Batched(self._confirm_all)

    async def reserve(self, order_id: str, wanted: list[Wanted]) -> Reservation:
        body = {
            "order_id": order_id,
            "items": [{"product_id": w.product_id, "quantity": w.quantity} for w in wanted],
        }
        answer = await self._reserve(body)
        if answer[0] == 409 and "short" in answer[1]:
            raise OutOfStock(
                "Not enough stock for some items.", extra={"short": answer[1]["short"]}
            )
        if answer[0] == 422:
            positions = {w.product_id: i for i, w in enumerate(wanted)}
            unknown = [
                e.get("message", "").removeprefix("unknown product ")
                for e in answer[1].get("errors", [])
            ]
            raise InvalidInput(
                "Some products do not exist or are no longer sold.",
                [
                    FieldError(f"items[{positions.get(pid, 0)}].product_id", "unknown product")
                    for pid in unknown
                ],
            )
        return self._reservation(answer)

    async def confirm(self, order_id: str) -> None:
        answer = await self._confirm(order_id)
        if answer[0] == 200 and answer[1].get("state") != CONFIRMED:  # a batch's answer
            answer = (404, {}) if answer[1].get("state") is None else (409, answer[1])
        if answer[0] == 409:
            raise Rejected(
                f"The reservation is {answer[1].get('state')}; it cannot be confirmed.",
                extra={"state": answer[1].get("state")},
            )
        if answer[0] == 404:
            raise NotFound("No such reservation.")
        if answer[0] >= 400:
            raise Unavailable(f"The products service refused the call ({answer[0]}).")

    async def _reserve_all(self, bodies: list[dict[str, Any]]) -> list[Answer]:
        if len(bodies) == 1:
            return [await self._call("POST", "/internal/reservations", bodies[0])]
        status, body = await self._call("POST", "/internal/batch/reservations", {"items": bodies})
        if status in (404, 405):  # a products instance from before the batch routes
            return [await self._call("POST", "/internal/reservations", b) for b in bodies]
        if status != 200:
            raise Unavailable(f"The products service refused the call ({status}).", retry_after=1)
        return [(item["status"], item["body"]) for item in body["items"]]

    async def _confirm_all(self, order_ids: list[str]) -> list[Answer]:
        if len(order_ids) == 1:
            return [await self._call("POST", f"/internal/reservations/{order_ids[0]}/confirm")]
        status, body = await self._call(
            "POST", "/internal/batch/confirmations", {"order_ids": order_ids}
        )
        if status in (404, 405):
            return [
                await self._call("POST", f"/internal/reservations/{order_id}/confirm")
                for order_id in order_ids
            ]
        if status != 200:
            raise Unavailable(f"The products service refused the call ({status}).", retry_after=1)
        states = {item["order_id"]: item for item in body["items"]}
        return [(200, states.get(order_id, {})) for order_id in order_ids]

    async def release(self, order_id: str) -> Reservation:
        return self._reservation(
            await self._call("POST", f"/internal/reservations/{order_id}/release")
        )

    async def give_back(self, order_id: str) -> Reservation:
        return self._reservation(
            await self._call("POST", f"/internal/reservations/{order_id}/return")
        )

    async def look_up(self, order_id: str) -> Reservation | None:
        answer = await self._call("GET", f"/internal/reservations/{order_id}")
        return None if answer[0] == 404 else self._reservation(answer)

    async def _call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        response = await self.clients.request(
            "products", method, path, json=body, headers=self.headers, idempotent=True
        )
        if response.status_code >= 500 or response.status_code == 429:
            raise Unavailable("The products service cannot take orders right now.", retry_after=1)
        try:
            parsed = response.json()
        except ValueError:
            raise Unavailable("The products service answered nonsense.", retry_after=1) from None
        return response.status_code, parsed if isinstance(parsed, dict) else {}

    @staticmethod
    def _reservation(answer: tuple[int, dict[str, Any]]) -> Reservation:
        status, body = answer
        if status == 404:
            raise NotFound("No such reservation.")
        if status == 409:
            raise Rejected(
                str(body.get("detail", "The reservation cannot change.")),
                extra={"state": body.get("state")},
            )
        if status >= 400:
            raise Unavailable(f"The products service refused the call ({status}).", retry_after=1)
        lines = [
            OrderLine(
                item["product_id"],
                item["name"],
                item["unit_price"]["amount"],
                item["unit_price"]["currency"],
                item["quantity"],
            )
            for item in body["items"]
        ]
        return Reservation(body["order_id"], body["state"], lines)
