"""Fixtures shared by every test directory."""

from tests.fixtures.pytest_plugin import kafka_broker, redis_prefix, redis_url

__all__ = ["kafka_broker", "redis_prefix", "redis_url"]
