"""The tests here send Redis commands: each runs on every Redis the project supports."""

from tests.support.redis_versions import (  # noqa: F401 - fixtures, by name
    private_redis,
    redis_url,
    redis_version,
    versioned_redis_url,
)
