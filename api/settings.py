"""Service settings, from the environment (prefix ``GRIDGIS_``) or passed to :func:`api.main.create_app`."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridgis.store import DEFAULT_URL, ROLES


class Settings(BaseSettings):
    """``GRIDGIS_DATABASE_URL``, ``GRIDGIS_API_KEYS`` ("token:role,token:role"), limits..."""

    model_config = SettingsConfigDict(env_prefix="GRIDGIS_", extra="ignore", hide_input_in_errors=True)

    database_url: str = Field(DEFAULT_URL, description="sqlite:///path.db or postgresql://user@host:port/db")
    #: keys given by the environment, besides those in the store: "token:role,token:role"
    api_keys: str = ""
    #: largest request body accepted (413 above)
    max_body_bytes: int = 64 * 1024 * 1024
    #: most points in one POST /v1/locate, features in one OGC page
    max_batch: int = 10_000
    #: seconds between two checks of the store's revision number by a worker
    poll_seconds: float = 1.0
    #: older plans kept in memory for ?plan= queries
    cached_plans: int = 4
    #: seconds between two runs of the case escalation job in each worker (0: off; cron runs `gridgis cases escalate`)
    cases_escalate_seconds: float = 60.0
    #: the Open311 jurisdiction_id this service answers for (empty: any id is taken and kept)
    open311_jurisdiction: str = ""
    #: the contact named by Open311 discovery
    open311_contact: str = "网格化服务管理中心 (grid management centre)"
    #: browser origins allowed to call the API (CORS), comma-separated, e.g. "https://h5.example.cn"; "*" any
    cors_origins: str = ""
    #: directory of the photos staff upload to cases (created when missing)
    upload_dir: str = "data/uploads"
    #: console pages: mark the session cookie Secure (set it when serving over HTTPS)
    cookie_secure: bool = False
    #: map pages draw a plan from vector tiles past this many features (towns, communities, grids, buildings)
    tiles_above: int = Field(100_000, ge=0)

    @field_validator("api_keys")
    @classmethod
    def _check_api_keys(cls, value: str) -> str:
        roles = [r for r in ROLES if r != "worker"]
        for item in filter(None, (s.strip() for s in value.split(","))):
            token, _, role = item.rpartition(":")
            if not token or role not in roles:
                raise ValueError(
                    f"GRIDGIS_API_KEYS item {item[:10]!r}... needs the form token:role with a role in {roles} "
                    "(worker keys carry grids: create them with gridgis key create --role worker --grid ID)"
                )
        return value

    def cors_origin_list(self) -> list[str]:
        """:attr:`cors_origins` as a list (empty: no CORS headers, browsers on other origins are refused)."""
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    def env_keys(self) -> dict[str, str]:
        """token -> role from :attr:`api_keys`."""
        keys = {}
        for item in filter(None, (s.strip() for s in self.api_keys.split(","))):
            token, _, role = item.rpartition(":")
            keys[token] = role
        return keys
