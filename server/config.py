"""Configuration: read from the environment in one place, checked loudly.

Every setting has a `WAIQIN_` environment variable; the CLI passes its flags as overrides.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from schema.kinds import MAX_ATTACHMENT_BYTES

from .errors import ConfigError


def normalise_database_url(url: str) -> str:
    """Accept the usual spellings and pick the async driver SQLAlchemy needs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite:///")):
        return url
    raise ConfigError(
        f"WAIQIN_DATABASE_URL {url!r} is neither a postgresql:// nor a sqlite:/// URL"
    )


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("./data")
    database_url: str = ""  # default: sqlite file in data_dir
    blobs_dir: Path | None = None  # default: data_dir / "blobs"
    upload_dir: Path | None = None  # partial resumable uploads; default: data_dir / "uploads"
    blob_store: str = "local"  # "local" or "s3"
    s3_endpoint_url: str = ""  # any S3-compatible store; empty: AWS
    s3_bucket: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_region: str = "us-east-1"
    s3_prefix: str = ""
    secret_key: str = ""  # signs cookies and keys the duplicate index; default: data_dir file
    max_frame: int = 1 << 20
    send_queue_frames: int = 20_000
    max_live_docs: int = 5_000  # about 8 KB each: a visit held live is ~8 KB of Y doc
    compact_interval: float = 60.0
    log_retention: float = 7 * 24 * 3600.0  # seconds a raw update stays before compaction
    blob_max_size: int = MAX_ATTACHMENT_BYTES  # the schema's limit; lower it, never raise it
    blob_gc_grace: float = 7 * 24 * 3600.0  # seconds an unreferenced blob is kept
    upload_ttl: float = 7 * 24 * 3600.0  # seconds an unfinished upload is kept
    blob_gc_interval: float = 3600.0
    token_ttl: float = 90 * 24 * 3600.0
    pool_claim_limit: int = 20  # customers a rep may hold at once from pool claims
    pool_release_days: int = 30  # an owned customer not contacted this long goes to the pool
    pool_sweep_interval: float = 3600.0  # seconds between automatic-release passes
    pg_notify: bool = True  # fan out across instances through PostgreSQL LISTEN/NOTIFY

    @property
    def database(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{self.data_dir / 'waiqin.db'}"

    @property
    def blobs(self) -> Path:
        return self.blobs_dir if self.blobs_dir is not None else self.data_dir / "blobs"

    @property
    def uploads(self) -> Path:
        return self.upload_dir if self.upload_dir is not None else self.data_dir / "uploads"

    @property
    def is_sqlite(self) -> bool:
        return self.database.startswith("sqlite")

    def secret(self) -> bytes:
        """The server secret: from the environment, else kept in the data directory."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip().encode()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = "WAIQIN_" + f.name.upper()
            if key not in env:
                continue
            raw = env[key]
            values[f.name] = _parse(key, raw, f.type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        cfg = cls(**values)
        if cfg.database_url:
            normalise_database_url(cfg.database_url)
        if not 0 < cfg.port < 65536:
            raise ConfigError(f"port {cfg.port} is out of range 1-65535")
        if cfg.blob_store not in ("local", "s3"):
            raise ConfigError(f"WAIQIN_BLOB_STORE={cfg.blob_store!r}: use 'local' or 's3'")
        if not 0 < cfg.blob_max_size <= MAX_ATTACHMENT_BYTES:
            # larger bytes would upload, then the record naming them would be refused
            raise ConfigError(
                f"WAIQIN_BLOB_MAX_SIZE={cfg.blob_max_size} must be 1 to {MAX_ATTACHMENT_BYTES}"
                " (the schema's attachment limit)")
        if cfg.pool_claim_limit < 1 or cfg.pool_release_days < 1:
            raise ConfigError("WAIQIN_POOL_CLAIM_LIMIT and WAIQIN_POOL_RELEASE_DAYS must be 1 "
                              "or more")
        if not cfg.pool_sweep_interval > 0:
            raise ConfigError(f"WAIQIN_POOL_SWEEP_INTERVAL={cfg.pool_sweep_interval} must be "
                              "more than 0 seconds")
        if cfg.blob_store == "s3" and not cfg.s3_bucket:
            raise ConfigError("WAIQIN_BLOB_STORE=s3 needs WAIQIN_S3_BUCKET")
        return cfg

    def with_(self, **changes: Any) -> Config:
        return replace(self, **changes)


def _parse(key: str, raw: str, typ: Any) -> Any:
    t = str(typ)
    try:
        if "int" in t and "Path" not in t:
            return int(raw)
        if "float" in t:
            return float(raw)
        if "bool" in t:
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if "Path" in t:
            return Path(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not a valid {t.replace(' | None', '')}") from None
    return raw
