"""The tests here send Redis commands: each runs on every Redis the project supports."""

from tests.support import redis_versions

private_redis = redis_versions.private_redis
redis_url = redis_versions.redis_url
redis_version = redis_versions.redis_version
versioned_redis_url = redis_versions.versioned_redis_url
