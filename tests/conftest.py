"""Fixtures shared by every test directory."""

from tests.fixtures.pytest_plugin import (
    kafka_broker,
    pytest_sessionfinish,
    redis_prefix,
    redis_url,
)

__all__ = ["kafka_broker", "pytest_sessionfinish", "redis_prefix", "redis_url"]
