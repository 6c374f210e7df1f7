"""`ServerSettings`: the server's binding and limits (every field has a `specinpaint serve` flag)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .rate_limit import DEFAULT_MAX_CLIENTS


class ServerSettings(BaseModel):
    """Limits and binding; every field can be set from `specinpaint serve` flags."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    max_upload_bytes: int = Field(20_000_000, ge=1, description="largest accepted audio upload")
    max_duration_s: float = Field(60.0, gt=0, description="longest accepted note (uploads and codes)")
    rate_limit_per_minute: float = Field(600.0, ge=0, description="per client; 0 disables")
    rate_limit_burst: int | None = Field(None, ge=1)
    max_clients: int = Field(DEFAULT_MAX_CLIENTS, ge=1, description="rate-limit table size (least recent forgotten)")
    allowed_hosts: list[str] | None = Field(
        None, description="Host header names accepted ('*' = any); None = loopback names + the bound host"
    )
    forwarded_allow_ips: str | None = Field(
        None, description="proxies whose X-Forwarded-For/-Proto are trusted (uvicorn syntax); None = none"
    )
    max_pack_pitches: int = Field(61, ge=1)
    torch_threads: int | None = Field(
        None, ge=1, description="intra-op CPU threads for inference (None: torch's default); 1 is often "
        "fastest for these small models on a busy machine",
    )
