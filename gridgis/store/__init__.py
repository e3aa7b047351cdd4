"""Where plans, staff, extra layers and API keys are kept: SQLite (default) or PostGIS.

Examples
--------
With a plan imported under that name (``gridgis plan import``)::

    from gridgis.store import open_store
    store = open_store("sqlite:///data/gridgis.db")
    store.publish_plan("2026-heshan")
"""

from __future__ import annotations

from pathlib import Path

from gridgis.errors import InputError
from gridgis.store.base import PLAN_LAYERS, ROLES, FeaturePage, LayerInfo, PlanInfo, Store

DEFAULT_URL = "sqlite:///data/gridgis.db"

__all__ = ["DEFAULT_URL", "PLAN_LAYERS", "ROLES", "FeaturePage", "LayerInfo", "PlanInfo", "Store", "open_store"]


def open_store(url: str | None = None) -> Store:
    """Open (and create or migrate) the store at ``url``.

    Parameters
    ----------
    url
        ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or
        ``postgresql://user@host:port/db``; None means :data:`DEFAULT_URL`.

    Examples
    --------
    >>> store = open_store("sqlite:////tmp/gridgis-doctest.db")
    >>> store.kind
    'sqlite'
    """
    url = url or DEFAULT_URL
    if url.startswith("sqlite:///"):
        from gridgis.store.sqlite import SQLiteStore

        return SQLiteStore(Path(url.removeprefix("sqlite:///")), url)
    if url.startswith(("postgresql://", "postgres://")):
        from gridgis.store.postgis import PostGISStore

        return PostGISStore(url)
    raise InputError(
        f"Unknown store URL {url!r}.",
        fix="use sqlite:///path.db (default sqlite:///data/gridgis.db) or postgresql://user@host:port/db.",
    )
