"""The settings of one model server (``dockyard serve``)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from dockyard.core.errors import InvalidInput
from dockyard.core.secrets import MAX_PER_STEP, check_names


class ServeConfig(BaseModel):
    """What ``dockyard serve`` was asked to do; every worker process builds its app from it."""

    uris: list[str] = Field(min_length=1, description="models:/ URIs, one per model")
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    trusted: bool = Field(False, description="load models whose files run code (pickle, pyfunc)")
    max_batch_rows: int = Field(256, ge=1, le=100_000)
    max_wait_ms: float = Field(0.0, ge=0, le=1000, description="hold a batch open this long")
    poll_seconds: float = Field(0.5, gt=0, le=60, description="how often aliases are checked")
    max_body_bytes: int = Field(16 << 20, ge=1024, description="larger requests get a 413")
    log_queue_rows: int = Field(100_000, ge=0, description="0 turns the prediction log off")
    log_flush_seconds: float = Field(2.0, gt=0, le=3600)
    heartbeat_seconds: float = Field(5.0, gt=0, le=600)
    secrets: list[str] = Field(
        default_factory=list,
        max_length=MAX_PER_STEP,
        description="names of the models' project's secrets, set as environment variables of "
        "every worker (the values never enter this config)",
    )

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, names: list[str]) -> list[str]:
        try:
            return check_names(names, "--secret")
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
