"""The REST API and web UI: ``create_app(engine, settings)`` and ``serve``."""

from polyseek.server.app import create_app
from polyseek.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
