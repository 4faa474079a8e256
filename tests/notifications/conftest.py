"""The publishing tests' fixtures (stub gateway, engine, clients), shared here."""

from tests.publishing.conftest import engine, gateway, publish_client

__all__ = ["engine", "gateway", "publish_client"]
