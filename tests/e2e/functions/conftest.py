from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from devtools.function_stack import FunctionStack, ShopApi
from tests.support.databases import DIALECTS, admin_url_for


@pytest.fixture(scope="module", params=DIALECTS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FunctionStack]:
    started = FunctionStack(
        request.param,
        tmp_path_factory.mktemp(f"shop-{request.param}"),
        postgres=admin_url_for(request.param),
    )
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
async def api(stack: FunctionStack) -> AsyncIterator[ShopApi]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as http:
        yield ShopApi(stack, http)
