"""The storefront in Debian's Chromium against the real system (`shop up`)."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.e2e.storefront.harness import ADMIN, PASSWORD, Api, LocalShop

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request, Route

pytestmark = pytest.mark.e2e


def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    from playwright.sync_api import expect

    page.goto("/#/account")
    login = page.get_by_role("form", name="Log in")
    login.get_by_label("Username").fill(username)
    login.get_by_label("Password").fill(password)
    login.get_by_label("Password").press("Enter")  # the keyboard submits the form
    expect(page.get_by_role("button", name=re.compile("^Log out"))).to_be_visible()


def add_to_cart(page: Page, product_name: str, quantity: int) -> None:
    from playwright.sync_api import expect

    page.goto("/#/")
    search = page.get_by_role("searchbox", name="Search products")
    search.fill(product_name)
    search.press("Enter")
    card = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=product_name, exact=True)
    )
    expect(card).to_have_count(1)
    card.get_by_label(f"Quantity of {product_name}").fill(str(quantity))
    card.get_by_role("button", name=f"Add {product_name} to cart").click()
    expect(page.get_by_role("status")).to_contain_text(f"Added {quantity} × {product_name}")


def at_checkout(page: Page, api: Api, *, stock: int, quantity: int) -> tuple[dict[str, Any], str]:
    """A new customer, logged in, with `quantity` of a new product in the cart, on the cart page."""
    product = api.product(stock=stock)
    name = api.customer()
    log_in(page, name)
    add_to_cart(page, product["name"], quantity)
    page.goto("/#/cart")
    return product, name


def test_a_shopper_signs_up_orders_sees_the_notification_and_cancels(page: Page, api: Api) -> None:
    from playwright.sync_api import expect

    product = api.product(stock=5)
    name = f"shopper_{uuid.uuid4().hex[:10]}"
    page.goto("/")
    expect(page.get_by_role("heading", name="Catalog", level=1)).to_be_visible()
    page.get_by_role("link", name="Log in").click()
    signup = page.get_by_role("form", name="Sign up")
    signup.get_by_label("Username").fill(name)
    signup.get_by_label("E-mail").fill(f"{name}@example.com")
    signup.get_by_label("Password").fill("too short")
    signup.get_by_role("button", name="Sign up").click()  # the browser checks the length first
    assert signup.get_by_label("Password").evaluate("input => input.validity.tooShort")
    signup.get_by_label("Password").fill(PASSWORD)
    signup.get_by_label("Username").fill(ADMIN[0])
    signup.get_by_role("button", name="Sign up").click()  # the shop says the name is taken
    expect(page.get_by_role("alert")).to_contain_text("username is taken")
    expect(signup.get_by_label("Username")).to_have_attribute("aria-invalid", "true")
    signup.get_by_label("Username").fill(name)
    signup.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("status")).to_contain_text(f"Logged in as {name}")

    add_to_cart(page, product["name"], 2)
    page.get_by_role("link", name=re.compile("^Cart")).click()
    expect(page.get_by_role("row", name=re.compile(product["name"]))).to_be_visible()
    expect(page.get_by_text("Total: €25.00")).to_be_visible()
    page.get_by_role("button", name="Place order").click()

    expect(page.get_by_role("heading", name="Your orders", level=1)).to_be_visible()
    order = page.locator("[data-order-id]").first
    expect(order.get_by_text("confirmed", exact=True)).to_be_visible()
    expect(order).to_contain_text(f"2 × {product['name']}")
    order_id = order.get_attribute("data-order-id")
    assert order_id is not None
    assert api.stock(product["id"]) == 3

    page.get_by_role("link", name="Inbox").click()
    inbox = page.get_by_role("list", name="Notifications")
    expect(inbox.get_by_role("heading", name=f"Order {order_id} confirmed")).to_be_visible()
    expect(inbox.get_by_role("heading", name=f"Welcome, {name}")).to_be_visible()

    page.get_by_role("link", name="Orders").click()
    page.get_by_role("button", name=f"Cancel order {order_id[:8]}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Order {order_id[:8]} cancelled")
    expect(page.locator(f'[data-order-id="{order_id}"]')).to_contain_text("cancelled")
    assert api.stock(product["id"]) == 5

    page.get_by_role("button", name=re.compile("^Log out")).click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    log_in(page, name)
    page.get_by_role("link", name="Inbox").click()
    expect(
        inbox.get_by_role("heading", name=re.compile(f"^Order {order_id}.*cancel"))
    ).to_be_visible()
    statuses = [o["status"] for o in api.orders(name)]
    assert statuses == ["cancelled"]


def test_a_double_click_on_place_order_places_one_order(phone: Page, api: Api) -> None:
    from playwright.sync_api import expect

    product, name = at_checkout(phone, api, stock=10, quantity=3)
    keys: list[str | None] = []
    phone.on(
        "request",
        lambda request: (
            keys.append(request.headers.get("idempotency-key"))
            if request.method == "POST" and request.url.endswith("/orders")
            else None
        ),
    )
    phone.get_by_role("button", name="Place order").dblclick()

    expect(phone.get_by_role("heading", name="Your orders", level=1)).to_be_visible()
    expect(phone.locator("[data-order-id]")).to_have_count(1)
    assert len(api.orders(name)) == 1
    assert api.stock(product["id"]) == 7
    assert keys, "no order request was sent"
    assert keys[0], "the order request carried no Idempotency-Key"
    assert len(set(keys)) == 1  # however many requests went out, they are one attempt
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the page scrolls sideways on a phone"


def test_a_retry_after_a_lost_response_sends_the_same_key_and_places_one_order(
    page: Page, api: Api
) -> None:
    from playwright.sync_api import expect

    product, name = at_checkout(page, api, stock=10, quantity=1)
    keys: list[str | None] = []

    def lose_first_response(route: Route, request: Request) -> None:
        keys.append(request.headers.get("idempotency-key"))
        if len(keys) == 1:
            route.fetch()  # the shop places the order, but the answer never reaches the page
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/orders", lose_first_response)
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("alert")).to_contain_text("could not be reached")
    assert len(api.orders(name)) == 1
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("heading", name="Your orders", level=1)).to_be_visible()

    assert len(keys) == 2
    assert keys[0]
    assert keys[0] == keys[1]
    assert len(api.orders(name)) == 1
    assert api.stock(product["id"]) == 9


def test_an_admin_manages_products_and_watches_the_live_registry(
    page: Page, api: Api, shop: LocalShop
) -> None:
    from playwright.sync_api import expect

    log_in(page, ADMIN[0], ADMIN[1])
    page.get_by_role("link", name="Admin").click()
    registry = page.get_by_role("table", name=re.compile("^Registry"))
    for service in ("gateway", "users", "products", "orders", "notifications"):
        expect(registry.get_by_role("row", name=re.compile(f"^{service} ")).first).to_contain_text(
            "healthy"
        )
    expect(registry.get_by_role("row", name=re.compile("^products ")).first).to_contain_text(
        "closed"
    )

    sku = f"ADM-{uuid.uuid4().hex[:8].upper()}"
    form = page.get_by_role("form", name="New product")
    form.get_by_label("SKU").fill(sku)
    form.get_by_label("Name").fill(f"Teapot {sku}")
    form.get_by_label("Category").fill("kitchen")
    form.get_by_label("Price").fill("19.99")
    form.get_by_label("Stock").fill("4")
    form.get_by_label("Description").fill("Short and stout.")
    form.get_by_role("button", name="Create product").click()
    expect(page.get_by_role("status")).to_contain_text(f"Created Teapot {sku}")
    found = httpx.get(f"{shop.url}/products", params={"q": sku}).json()["items"]
    assert [(p["sku"], p["price"], p["stock"]) for p in found] == [
        (sku, {"amount": 1999, "currency": "EUR"}, 4)
    ]

    page.get_by_role("button", name=f"Edit Teapot {sku}").click()
    edit = page.get_by_role("form", name=f"Edit Teapot {sku}")
    edit.get_by_label("Stock").fill("9")
    edit.get_by_role("button", name="Save product").click()
    expect(page.get_by_role("status")).to_contain_text(f"Saved Teapot {sku}")
    assert api.stock(found[0]["id"]) == 9

    page.get_by_role("button", name=f"Delete Teapot {sku}").click()
    assert api.stock(found[0]["id"]) == 9  # one press only arms the button
    page.get_by_role("button", name=f"Confirm delete Teapot {sku}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Deleted Teapot {sku}")
    expect(page.get_by_role("button", name=f"Delete Teapot {sku}")).to_have_count(0)
    assert httpx.get(f"{shop.url}/products/{found[0]['id']}").status_code == 404


def tab_to(page: Page, name: str, limit: int = 60) -> None:
    """Press Tab until the element with this accessible name has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement;"
            " return e.getAttribute('aria-label') || (e.labels && e.labels[0]"
            " && e.labels[0].textContent) || e.textContent; }"
        )
        if focused and focused.strip() == name:
            return
    raise AssertionError(f"{name!r} was not reached with the Tab key")


def test_a_shopper_finds_and_adds_a_product_with_the_keyboard_alone(page: Page, api: Api) -> None:
    from playwright.sync_api import expect

    product = api.product(stock=3)
    page.goto("/")
    expect(page.get_by_role("heading", name="Catalog", level=1)).to_be_focused()
    page.keyboard.press("Shift+Tab")
    tab_to(page, "Skip to content")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    tab_to(page, "Search products")
    page.keyboard.type(product["name"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Search: {product['name']}")).to_be_focused()
    tab_to(page, f"Add {product['name']} to cart")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text(f"Added 1 × {product['name']}")
    expect(page.locator("#cart-count")).to_have_text("1")
    page.get_by_role("link", name="More in kitchen").click()
    expect(page.get_by_role("heading", name="Category: kitchen", level=1)).to_be_focused()
    expect(page.get_by_role("heading", name=product["name"], exact=True)).to_be_visible()


UNNAMED_CONTROLS = """() => [...document.querySelectorAll('input, textarea, button, a[href]')]
  .filter((e) => e.offsetParent !== null)
  .filter((e) => !((e.labels && e.labels.length) || e.getAttribute('aria-label')
                   || e.textContent.trim()))
  .map((e) => e.outerHTML)"""


def test_every_view_has_one_heading_and_no_unnamed_control(page: Page) -> None:
    from playwright.sync_api import expect

    assert page.goto("/") is not None
    assert page.get_attribute("html", "lang") == "en"
    log_in(page, ADMIN[0], ADMIN[1])
    for view in ("#/", "#/cart", "#/orders", "#/inbox", "#/admin", "#/account"):
        page.goto(f"/{view}")
        expect(page.locator("main h1")).to_have_count(1)
        expect(page.locator("main h1")).to_be_focused()
        assert page.evaluate(UNNAMED_CONTROLS) == [], view


# What a shopper must never read: a value the code failed to turn into words.
NOT_WORDS = re.compile(r"\b(?:null|undefined|NaN)\b|\[object \w+\]")


def assert_shopper_reads(page: Page, *expected: str) -> None:
    """The view shows `expected` (waiting for it), and no visible text anywhere on the page
    reads "null", "undefined", "NaN" or "[object Object]"."""
    from playwright.sync_api import expect

    for text in expected:
        expect(page.locator("main")).to_contain_text(text)
    visible = page.locator("body").inner_text()
    assert not NOT_WORDS.search(visible), visible


def test_what_a_shopper_reads_on_every_view_is_words_not_null_or_undefined(
    page: Page, api: Api
) -> None:
    from playwright.sync_api import expect

    product = api.product(stock=4)
    name = api.customer()
    page.goto("/")
    assert_shopper_reads(page, "Catalog", "Search products", "shown.")
    page.goto(f"/#/?q={product['name']}")
    assert_shopper_reads(page, f"Search: {product['name']}", "€12.50", "1 product shown")
    page.goto("/#/?category=kitchen")
    assert_shopper_reads(page, "Category: kitchen", "All products", "shown in kitchen.")
    page.goto("/#/cart")
    assert_shopper_reads(page, "Your cart is empty.")

    log_in(page, name)
    page.goto("/#/account")
    assert_shopper_reads(page, "You are logged in.")
    add_to_cart(page, product["name"], 2)
    page.goto("/#/cart")
    assert_shopper_reads(page, product["name"], "Total: €25.00")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("heading", name="Your orders", level=1)).to_be_visible()
    assert_shopper_reads(page, f"2 × {product['name']} at €12.50", "Total €25.00")
    page.goto("/#/inbox")
    assert_shopper_reads(page, f"Welcome, {name}")

    page.get_by_role("button", name=re.compile("^Log out")).click()
    log_in(page, ADMIN[0], ADMIN[1])
    page.goto("/#/admin")
    assert_shopper_reads(page, "Live registry", "gateway", product["sku"])
