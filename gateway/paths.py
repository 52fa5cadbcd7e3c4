"""The one path the gateway decides on: exactly the path the function will dispatch.

The gateway forwards the raw path; the function's server percent-decodes it once (as the
gateway's own server did into `scope["path"]`) and Litestar's router splits it on `/`,
dropping empty segments. So routes, limits and authorization are decided on the decoded path,
and any path whose meaning could differ between the two, or between the two and a server in
between, is refused with 400: empty segments (`//`), dot segments (`/./`, `/../`), encoded
separators, dots or percent signs (`%2F`, `%5C`, `%2E`, `%25`, so `%252F` too), backslashes
and control characters.
"""

from __future__ import annotations

import re

from litestar.exceptions import HTTPException

_ENCODED = re.compile(rb"%(?:2f|5c|2e|25)", re.IGNORECASE)
_AMBIGUOUS = re.compile(r"//|/\.\.?(?:/|$)|[\\\x00-\x1f\x7f]")


def dispatched_path(raw_path: bytes, path: str) -> str:
    """`path` (the decoded `scope["path"]`) when it is canonical; a 400 otherwise."""
    if _ENCODED.search(raw_path) or _AMBIGUOUS.search(path) or not path.startswith("/"):
        raise HTTPException(
            status_code=400,
            detail="The path is not canonical (empty or dot segments, or encoded separators).",
        )
    return path
