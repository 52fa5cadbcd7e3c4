from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.e2e.storefront.harness import (
    ARTIFACTS,
    CHROMIUM_FLAGS,
    Api,
    LocalShop,
    require_chromium,
)
from tests.support.services import redis_url

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[FAILED] = True
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="module")
def shop() -> Iterator[LocalShop]:
    require_chromium()
    url = redis_url()
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    running = LocalShop(url)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()
        client.flushdb()
        client.close()


@pytest.fixture
def api(shop: LocalShop) -> Iterator[Api]:
    client = Api(shop.url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def playwright_driver(shop: LocalShop) -> Iterator[Playwright]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    chromium = require_chromium()
    launched = playwright_driver.chromium.launch(
        executable_path=str(chromium), headless=True, args=CHROMIUM_FLAGS
    )
    try:
        yield launched
    finally:
        launched.close()


def _page(
    request: pytest.FixtureRequest, browser: Browser, shop: LocalShop, viewport: dict[str, int]
) -> Iterator[Page]:
    context = browser.new_context(
        base_url=shop.url,
        viewport=viewport,  # type: ignore[arg-type]
        locale="en-US",  # prices read "€12.50"
        timezone_id="UTC",
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(  # the page must live within its Content-Security-Policy
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        yield page
        assert not errors, f"the page raised: {errors}"
    finally:
        if request.node.stash.get(FAILED, False):
            name = re.sub(r"[^\w.-]+", "_", request.node.name)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            shop.keep_logs(name)
        context.close()


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Browser, shop: LocalShop) -> Iterator[Page]:
    yield from _page(request, browser, shop, DESKTOP)


@pytest.fixture
def phone(request: pytest.FixtureRequest, browser: Browser, shop: LocalShop) -> Iterator[Page]:
    yield from _page(request, browser, shop, PHONE)
