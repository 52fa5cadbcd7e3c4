"""The storefront: a small static page served by the gateway at `/`, using only the public API.

The files are read once, when the app is built. `index.html` names its assets with a content
hash (`/storefront/app.js?v=<hash>`), so the page itself is revalidated on every visit while
the assets it names are cached for a year; an asset asked for under another hash is served
with `no-cache`. Every answer carries a strong ETag and honours `If-None-Match`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath, FromQuery

from shop.runtime.errors import NotFound

FILES = Path(__file__).parent
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
REVALIDATE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, media_type: str) -> Asset:
        return cls(body, media_type, f'"{hashlib.sha256(body).hexdigest()[:32]}"')

    def respond(self, request: Request[Any, Any, Any], cache: str) -> Response[bytes]:
        headers = {
            "Cache-Control": cache,
            "ETag": self.etag,
            "X-Content-Type-Options": "nosniff",
        }
        if self.media_type.startswith("text/html"):
            headers |= {"Content-Security-Policy": PAGE_POLICY, "Referrer-Policy": "no-referrer"}
        if self.etag in request.headers.get("if-none-match", ""):
            return Response(b"", status_code=304, headers=headers)
        return Response(self.body, media_type=self.media_type, headers=headers)


def storefront_handlers() -> list[Any]:
    """`GET /` (the page) and `GET /storefront/{name}` (its script and stylesheet)."""
    assets = {name: Asset.of((FILES / name).read_bytes(), kind) for name, kind in ASSETS.items()}
    versions = {name: asset.etag.strip('"')[:12] for name, asset in assets.items()}
    html = (FILES / "index.html").read_text()
    for name, version in versions.items():
        html = html.replace(f"/storefront/{name}", f"/storefront/{name}?v={version}")
    page = Asset.of(html.encode(), "text/html")

    @get("/", include_in_schema=False)
    async def index(request: Request[Any, Any, Any]) -> Response[bytes]:
        return page.respond(request, REVALIDATE)

    @get("/storefront/{name:str}", include_in_schema=False)
    async def asset(
        request: Request[Any, Any, Any], name: FromPath[str], v: FromQuery[str | None] = None
    ) -> Response[bytes]:
        found = assets.get(name)
        if found is None:
            raise NotFound(f"No storefront file {name!r}.")
        return found.respond(request, IMMUTABLE if v == versions[name] else REVALIDATE)

    return [index, asset]
