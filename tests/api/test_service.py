"""Error shape, health, metrics and docs."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.main import create_app


def _is_error(body: dict) -> bool:
    return set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])


def test_every_error_has_one_shape(client, published, auth):
    cases = [
        (client.get("/no/such/route"), 404),
        (client.delete("/v1/locate"), 405),
        (client.post("/v1/locate", content=b"{not json", headers={"content-type": "application/json"}), 422),
        (client.get("/v1/locate"), 422),
        (client.post("/v1/plans/x/publish"), 401),
        (client.get("/v1/keys", headers=auth["reader"]), 403),
        (client.get("/v1/plans/nope"), 404),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert _is_error(response.json()), response.text


def test_unexpected_error_is_a_json_500(settings, store):
    app = create_app(settings, store=store)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500 and _is_error(r.json()) and "secret" not in r.text


def test_health_metrics_docs(client, published):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["plan"] == published.name and health["grids"] == 8
    client.get("/v1/locate", params={"lon": 112.905, "lat": 22.71})
    metrics = client.get("/metrics").text
    assert 'gridgis_http_requests_total{method="GET",route="/v1/locate",status="200"}' in metrics
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    params = {p["name"] for p in spec["paths"]["/v1/locate"]["get"]["parameters"]}
    assert {"lon", "lat", "crs", "plan"} <= params
    batch = spec["paths"]["/v1/locate"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "$ref" not in str(batch) and "FeatureCollection" in str(batch)


def test_no_plan_published_is_a_clear_404(settings, tmp_path):
    from api.settings import Settings

    empty = Settings(database_url=f"sqlite:///{tmp_path}/empty.db")
    with TestClient(create_app(empty)) as c:
        r = c.get("/v1/locate", params={"lon": 112.905, "lat": 22.71})
    assert r.status_code == 404 and "No plan is published" in r.json()["error"]["message"]
