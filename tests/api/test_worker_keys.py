"""Worker keys: a role between reader and dispatcher whose key carries the grids it covers (store, keys API, CLI)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from fastapi import APIRouter
from pydantic import ValidationError

from api.deps import CallerDep
from api.settings import Settings
from gridgis.access import Caller
from gridgis.cli import main as gridgis_cli
from gridgis.errors import InputError

G1, G2 = "440784101001001", "440784101001002"


def test_worker_key_carries_its_grids_in_the_store(store, published):
    hotline = store.create_key("dispatcher", "hotline")
    token = store.create_key("worker", "王五", grids=[G2, G1, G1])
    key = store.lookup_key(token)
    assert (key["role"], key["name"], key["grids"], key["prefix"]) == ("worker", "王五", (G1, G2), token[:10])
    assert store.key_role(token) == "worker"
    listed = next(k for k in store.list_keys() if k["prefix"] == token[:10])
    assert listed["grids"] == [G1, G2]
    assert next(k for k in store.list_keys() if k["prefix"] == hotline[:10])["grids"] == []


@pytest.mark.parametrize(
    ("role", "grids", "match"),
    [
        ("worker", [], "needs the grid ids"),
        ("worker", [""], "empty grid id"),
        ("reader", [G1], "Only worker keys carry grids"),
        ("worker", [G1, "440784999999999"], "440784999999999"),
    ],
)
def test_bad_worker_keys_are_refused(store, published, role, grids, match):
    before = len(store.list_keys())
    with pytest.raises(InputError, match=match):
        store.create_key(role, "x", grids=grids)
    assert len(store.list_keys()) == before  # nothing half-created


def test_keys_api_creates_worker_keys(client, published, auth):
    r = client.post("/v1/keys", json={"role": "worker", "name": "赵六", "grids": [G2]}, headers=auth["admin"])
    assert r.status_code == 201, r.text
    assert (r.json()["role"], r.json()["grids"]) == ("worker", [G2])
    token = r.json()["key"]
    listed = {k["prefix"]: k for k in client.get("/v1/keys", headers=auth["admin"]).json()}
    assert listed[token[:10]]["grids"] == [G2] and listed[token[:10]]["role"] == "worker"
    # a worker ranks below dispatcher: it may not edit staff
    r = client.put(f"/v1/grids/{G2}/staff", json={"leader": {"name": "x"}}, headers={"X-API-Key": token})
    assert r.status_code == 403 and r.json()["error"]["details"] == {
        "required_role": "dispatcher",
        "role": "worker",
        "fix": "use a key with one of the roles ['dispatcher', 'planner', 'admin'].",
    }
    for body in ({"role": "worker"}, {"role": "worker", "grids": ["nope"]}, {"role": "reader", "grids": [G1]}):
        r = client.post("/v1/keys", json=body, headers=auth["admin"])
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input", body


def test_cli_creates_and_lists_worker_keys(store, published, store_url):
    runner = CliRunner()
    args = ["key", "create", "--role", "worker", "--name", "王五", "--grid", G1, "--grid", G2, "--db", store_url]
    out = runner.invoke(gridgis_cli, args)
    assert out.exit_code == 0, out.output
    token = out.output.strip()
    assert store.lookup_key(token)["grids"] == (G1, G2)
    listing = runner.invoke(gridgis_cli, ["key", "list", "--db", store_url]).output
    line = next(x for x in listing.splitlines() if x.startswith(token[:10]))
    assert "worker" in line and f"grids: {G1} {G2}" in line
    out = runner.invoke(gridgis_cli, ["key", "create", "--role", "worker", "--db", store_url])
    assert out.exit_code != 0 and "--grid" in out.output and "Traceback" not in out.output


def test_caller_dependency_gives_role_and_grids(client, store, published, auth):
    """A router scopes by the caller: role, key prefix and a worker's grids."""
    probe = APIRouter()

    @probe.get("/probe-caller")
    def who(caller: CallerDep) -> dict:
        return {"role": caller.role, "prefix": caller.prefix, "grids": list(caller.grids), "scope": caller.scope}

    client.app.include_router(probe)
    token = store.create_key("worker", "w", grids=[G1])
    assert client.get("/probe-caller", headers={"X-API-Key": token}).json() == {
        "role": "worker",
        "prefix": token[:10],
        "grids": [G1],
        "scope": [G1],
    }
    assert client.get("/probe-caller", headers=auth["dispatcher"]).json()["scope"] is None
    assert client.get("/probe-caller").json() == {"role": None, "prefix": None, "grids": [], "scope": []}
    assert client.get("/probe-caller", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_caller_ranks():
    worker = Caller("worker", "ggk_abcdef", (G1,))
    assert worker.at_least("reader") and worker.at_least("worker") and not worker.at_least("dispatcher")
    assert Caller("admin").at_least("dispatcher") and not Caller().at_least("reader")


def test_environment_keys_cannot_be_workers():
    with pytest.raises(ValidationError, match="gridgis key create --role worker") as err:
        Settings(api_keys="ggk_secret_token_1:worker")
    assert "ggk_secret_token_1" not in str(err.value)  # the token is not echoed into logs
    with pytest.raises(ValidationError, match="token:role"):
        Settings(api_keys="ggk_x:root")


def test_access_rules_are_pure_functions_of_caller_and_case():
    from gridgis.access import ANONYMOUS, may_act, may_read, require_role
    from gridgis.errors import ForbiddenError, UnauthenticatedError

    app = Caller.of_key("ggk_app-one-secret", "reader")
    worker = Caller.of_key("ggk_worker-secret", "worker", (G1,))
    boss = Caller.of_key("ggk_boss-secret", "dispatcher")
    case = {"id": 1, "grid_id": G1, "town_id": "440784101", "submitter_id": app.key_id}
    other = {**case, "grid_id": G2, "submitter_id": boss.key_id}
    assert may_read(app, case) and not may_act(app, case) and not may_read(app, other)
    assert may_read(worker, case) and may_act(worker, case) and not may_read(worker, other)
    assert may_act(boss, other) and not may_read(ANONYMOUS, case)
    with pytest.raises(UnauthenticatedError):
        require_role(ANONYMOUS)
    with pytest.raises(ForbiddenError) as err:
        require_role(app, "dispatcher")
    assert err.value.details == {"required_role": "dispatcher", "role": "reader"}
    assert require_role(boss, "worker") is boss
