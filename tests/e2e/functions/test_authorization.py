"""Who may do what, on every route of users, products and orders; and the tokens no function
accepts (each verifies on its own, whatever the gateway did)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from devtools.function_stack import FunctionStack, ShopApi
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.e2e


@dataclass
class World:
    owner: str
    owner_id: str
    other: str
    admin: str
    product_id: str
    order_id: str


@pytest.fixture
async def world(api: ShopApi) -> World:
    admin = await api.admin()
    product = await api.product(admin, stock=100)
    owner_id, owner = await api.customer()
    _, other = await api.customer()
    placed = await api.order(owner, [(product["id"], 1)])
    return World(owner, owner_id, other, admin, product["id"], placed.json()["id"])


# (service, method, path template, body) -> expected status for: owner, other customer, admin
ROUTES = [
    ("users", "GET", "/users/me", None, (200, 200, 200)),
    ("users", "GET", "/users/{owner_id}", None, (200, 404, 200)),
    ("products", "POST", "/products", "new_product", (403, 403, 201)),
    ("products", "PATCH", "/products/{product_id}", {"name": "Renamed"}, (403, 403, 200)),
    ("orders", "GET", "/orders", None, (200, 200, 200)),
    ("orders", "GET", "/orders/{order_id}", None, (200, 404, 200)),
    ("orders", "POST", "/orders/{fresh_order}/cancel", None, (200, 404, 200)),
    ("orders", "POST", "/orders", "one_item", (201, 201, 201)),
    ("products", "DELETE", "/products/{product_id}", None, (403, 403, 204)),
]


def _body(kind: object, world: World) -> object:
    if kind == "new_product":
        import uuid

        return {
            "sku": f"AUTH-{uuid.uuid4().hex[:8]}",
            "name": "x",
            "category": "tests",
            "price": {"amount": 1, "currency": "EUR"},
        }
    if kind == "one_item":
        return {"items": [{"product_id": world.product_id, "quantity": 1}]}
    return kind


async def test_the_authorization_matrix_holds_on_every_route(api: ShopApi, world: World) -> None:
    callers = {"owner": world.owner, "other": world.other, "admin": world.admin}
    seen = []
    for service, method, template, body, expected in ROUTES:
        path = template.format(**vars(world), fresh_order="")
        for (who, token), status in zip(callers.items(), expected, strict=True):
            if "{fresh_order}" in template:  # each caller tries to cancel a new order
                placed = await api.order(world.owner, [(world.product_id, 1)])
                path = template.format(fresh_order=placed.json()["id"])
            response = await api.call(service, method, path, token, json=_body(body, world))
            seen.append((service, method, template, who, response.status_code))
            assert response.status_code == status, (seen[-1], response.text)
            if status >= 400:
                assert response.headers["content-type"].startswith("application/problem+json")


ANONYMOUS_ROUTES = [
    ("users", "GET", "/users/me"),
    ("users", "GET", "/users/{owner_id}"),
    ("products", "POST", "/products"),
    ("products", "PATCH", "/products/{product_id}"),
    ("products", "DELETE", "/products/{product_id}"),
    ("orders", "GET", "/orders"),
    ("orders", "POST", "/orders"),
    ("orders", "GET", "/orders/{order_id}"),
    ("orders", "POST", "/orders/{order_id}/cancel"),
]


def bad_tokens(stack: FunctionStack, world: World) -> dict[str, str | None]:
    real = TokenFactory(stack.signing_keys())
    stranger = TokenFactory()
    return {
        "missing": None,
        "garbage": "not-a-jwt",
        "expired": real.expired(world.owner_id),
        "wrong audience": real.token(world.owner_id, "admin", aud="another-shop"),
        "wrong issuer": real.token(world.owner_id, "admin", iss="mallory"),
        "alg none": real.unsigned(world.owner_id),
        "hmac with the public key": real.hmac_with_public_key(world.owner_id),
        "forged with the real kid": real.forged(world.owner_id),
        "signed by an unknown key": stranger.token(world.owner_id, "admin"),
    }


async def test_bad_tokens_get_401_with_a_bearer_challenge_everywhere(
    api: ShopApi, stack: FunctionStack, world: World
) -> None:
    for name, token in bad_tokens(stack, world).items():
        for service, method, template in ANONYMOUS_ROUTES:
            path = template.format(**vars(world))
            body = {"items": [{"product_id": world.product_id, "quantity": 1}]}
            response = await api.call(
                service,
                method,
                path,
                token,
                json=body if method == "POST" and service == "orders" else None,
            )
            assert response.status_code == 401, (name, service, method, path, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
    assert await api.stock(world.product_id) == 99  # nothing was sold or withdrawn


async def test_a_good_token_from_the_real_key_is_accepted_everywhere(
    api: ShopApi, stack: FunctionStack, world: World
) -> None:
    minted = TokenFactory(stack.signing_keys()).token(world.owner_id, "customer")
    response = await api.call("orders", "GET", f"/orders/{world.order_id}", minted)
    assert response.status_code == 200
    assert (await api.call("users", "GET", "/users/me", minted)).status_code == 200
