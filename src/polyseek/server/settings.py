"""Server settings: one validated object for keys, limits, CORS and the answer generator."""

from __future__ import annotations

import ipaddress
import os

from pydantic import BaseModel, ConfigDict, Field, model_validator

from polyseek.errors import ConfigError

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


def is_loopback(host: str) -> bool:
    """True for loopback addresses and ``localhost`` (not for 0.0.0.0 or a LAN address)."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServerSettings(BaseModel):
    """How ``polyseek serve`` runs. Keys may come from ``$POLYSEEK_API_KEY`` and
    ``$POLYSEEK_ADMIN_KEY`` (see :meth:`from_env`).

    ``api_key`` allows reading (search, items, media, status, ask); ``admin_key`` also
    allows changing the index (add/remove sources, start an index run). ``no_auth``
    turns keys off and is only accepted on a loopback ``host``.
    """

    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    api_key: str | None = None
    admin_key: str | None = None
    no_auth: bool = False
    cors_origins: tuple[str, ...] = ()  # empty: no CORS headers at all
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(default=40_000_000, gt=0)
    max_top: int = Field(default=100, ge=1)
    body_timeout_s: float = Field(default=30.0, gt=0)  # a body that stops arriving: 408
    generator: str = "extractive"  # see polyseek.rag.load_generator
    generator_base_url: str | None = None
    answer_threshold: float = 0.35
    # Rerankers a request may name (``rerank=``): loading a model is the server's choice,
    # not a client's. The offline late-interaction reranker is always allowed.
    rerankers: tuple[str, ...] = ("late:minilm",)

    @model_validator(mode="after")
    def _check_auth(self) -> ServerSettings:
        if self.no_auth:
            if not is_loopback(self.host):
                raise ConfigError(
                    f"--no-auth is only allowed on a loopback address, not {self.host!r}",
                    hint="bind to 127.0.0.1, or drop --no-auth: keys then come from "
                    "$POLYSEEK_API_KEY/$POLYSEEK_ADMIN_KEY, or are made for the run",
                )
        elif not (self.api_key or self.admin_key):
            raise ConfigError(
                "the server needs an API key",
                hint="set $POLYSEEK_API_KEY (read) and $POLYSEEK_ADMIN_KEY (admin), or "
                "start with --no-auth on 127.0.0.1",
            )
        for key in (self.api_key, self.admin_key):
            if key is not None and len(key) < 16:
                raise ConfigError("API keys must be at least 16 characters long")
        return self

    @classmethod
    def from_env(cls, **overrides: object) -> ServerSettings:
        values: dict[str, object] = {
            "api_key": os.environ.get("POLYSEEK_API_KEY") or None,
            "admin_key": os.environ.get("POLYSEEK_ADMIN_KEY") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
