"""API keys (admin only): create one for a role (a worker key with its grids), list them (hashes are never shown)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from api.deps import StoreDep, require
from api.schemas import KeyIn, KeyOut
from gridgis.times import shown

router = APIRouter(prefix="/v1/keys", tags=["keys"], dependencies=[require("admin")])


@router.post("", response_model=KeyOut, status_code=201, summary="Create an API key (shown once)")
def create_key(body: KeyIn, store: StoreDep) -> dict:
    """A new key of ``body.role`` (a worker's with its grids); the token is in the answer only."""
    token = store.create_key(body.role, body.name, grids=body.grids)
    return {"key": token, "role": body.role, "name": body.name, "grids": list(store.lookup_key(token)["grids"])}


@router.get("", summary="List API keys (prefix, name, role, a worker's grids, dates)")
def list_keys(store: StoreDep) -> list[dict]:
    """Every key (times ISO 8601 in Asia/Shanghai); the token and its hash are never shown."""
    return [
        {k: (shown(v).isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
        for row in store.list_keys()
    ]
