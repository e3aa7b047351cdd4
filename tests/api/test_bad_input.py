"""Input never causes a 500: each request that once did answers 4xx with the error shape; unknown query
parameters are refused naming the allowed ones; CORS from the allow-list; every error status is in the OpenAPI."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings

JSON = {"content-type": "application/json"}
CASE = b'{"category": "fire", "description": %s, "lon": 112.905, "lat": 22.705}'


def _shape(r, status: int | tuple[int, ...], code: str | None = None) -> dict:
    assert r.status_code in ((status,) if isinstance(status, int) else status), r.text
    err = r.json()["error"]
    assert set(err) == {"code", "message", "details"}
    if code:
        assert err["code"] == code, err
    return err


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (CASE % b"NaN", "nan"),
        (CASE % b"Infinity", "inf"),
        (CASE % b'"a\\ud800b"', "surrogate"),
        (CASE % b'"a\\u0000b"', "NUL"),
        (b'{"category": "fire", "description": "x", "lon": 1e999, "lat": 22.7}', "inf"),
        (
            b'{"category": "fire", "description": "x", "lon": 112.9, "lat": 22.7, "photo_urls": [1' + b"0" * 20 + b"]}",
            "64-bit",
        ),
    ],
)
def test_unstorable_json_is_422_naming_the_field(client, published, auth, body, needle):
    err = _shape(client.post("/v1/cases", content=body, headers={**auth["dispatcher"], **JSON}), 422, "invalid_value")
    assert needle in err["message"] and err["details"]["field"].startswith("body.")


GOOD = {"category": "fire", "description": "x", "lon": 112.905, "lat": 22.705}


@pytest.mark.parametrize(
    ("kwargs", "problems"),
    [
        ({}, [("body", "Field required")]),
        ({"content": b'{"a":', "headers": JSON}, [("body.5", "JSON decode error")]),
        ({"content": b"null", "headers": JSON}, [("body", "valid dictionary or object")]),
        ({"json": [GOOD]}, [("body", "valid dictionary or object")]),
        ({"content": b'{"category": "fire"}', "headers": {"content-type": "text/plain"}}, [("body", "dictionary")]),
        ({"json": {**GOOD, "x": 1}}, [("body.x", "Extra inputs")]),
        ({"json": {**GOOD, "lon": "abc"}}, [("body.lon", "valid number")]),
        ({"json": {**GOOD, "address": "x" * 201}}, [("body.address", "at most 200")]),
        (  # a header and the body wrong at once: one answer naming both, the header first
            {"json": {**GOOD, "x": 1}, "headers": {"Idempotency-Key": "k" * 201}},
            [("header.idempotency-key", "at most 200"), ("body.x", "Extra inputs")],
        ),
    ],
)
def test_case_intake_names_each_bad_part_of_the_request(client, published, auth, kwargs, problems):
    """POST /v1/cases reads its own request (the busiest write): its answers are FastAPI's for a declared body."""
    kwargs = {**kwargs, "headers": {**auth["reader"], **kwargs.get("headers", {})}}
    err = _shape(client.post("/v1/cases", **kwargs), 422, "invalid_request")
    got = err["details"]["problems"]
    assert [p["field"] for p in got] == [f for f, _ in problems], got
    assert all(needle in p["message"] for p, (_, needle) in zip(got, problems, strict=True)), got


def test_case_intake_wants_a_key_before_it_reads_the_fields(client, published, auth):
    assert _shape(client.post("/v1/cases", json={"x": 1}), 401, "key_required")
    assert _shape(client.post("/v1/cases", json=GOOD, headers={"X-API-Key": "ggk_nope"}), 401, "bad_key")
    r = client.post("/v1/cases", json=GOOD, headers={"Authorization": "Bearer " + auth["reader"]["X-API-Key"]})
    assert r.status_code == 201 and r.headers["Location"] == f"/v1/cases/{r.json()['id']}"
    again = {**auth["reader"], "Idempotency-Key": "k" * 200}
    first = client.post("/v1/cases", json=GOOD, headers=again)
    replay = client.post("/v1/cases", json=GOOD, headers=again)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert _shape(client.post("/v1/cases", json={**GOOD, "description": "y"}, headers=again), 409, "conflict")


def test_nan_in_a_locate_batch_is_echoed_safely(client, published):
    r = client.post("/v1/locate", content=b'{"lon": ["a\\ud800"], "lat": [NaN]}', headers=JSON)
    _shape(r, 422)


@pytest.mark.parametrize(
    "url",
    [
        "/v1/cases/99999999999999999999",
        "/v1/cases?offset=99999999999999999999",
        "/v1/cases?limit=-99999999999999999999",
        "/ogc/collections/grids/items?offset=99999999999999999999",
        "/v1/cases?since=0001-01-01T00:00:00%2B14:00",
        "/v1/cases?until=9999-12-31T23:59:59-14:00",
        "/v1/cases?category=a%00b",
        "/v1/grids/a%00b",
    ],
)
def test_ids_offsets_dates_and_nul_in_the_url_are_422(client, published, auth, url):
    err = _shape(client.get(url, headers=auth["dispatcher"]), 422)
    assert err["code"] in ("invalid_value", "invalid_request")


def test_bad_photo_url_is_422(client, published, auth):
    body = {"category": "fire", "description": "x", "lon": 112.905, "lat": 22.705, "photo_urls": ["http://["]}
    err = _shape(client.post("/v1/cases", json=body, headers=auth["dispatcher"]), 422, "invalid_input")
    assert "photo URL" in err["message"]


@pytest.mark.parametrize("name", [".", "..", ".hidden", "-x"])
def test_dot_names_are_refused(client, published, auth, name):
    r = client.post("/v1/layers", params={"name": name}, files={"file": ("a.geojson", b"{}")}, headers=auth["planner"])
    assert "name" in _shape(r, 422)["message"]


@pytest.mark.parametrize("filename", ["..", ".", "x" * 300 + ".geojson"])
def test_upload_file_names_are_never_a_500(client, published, auth, filename):
    fc = b'{"type": "FeatureCollection", "features": []}'
    r = client.post("/v1/layers", params={"name": "beats"}, files={"file": (filename, fc)}, headers=auth["planner"])
    assert r.status_code in (201, 422), r.text


def test_unknown_filters_are_422_naming_the_allowed(client, published, auth):
    err = _shape(client.get("/v1/cases?community=1&overdue=true", headers=auth["dispatcher"]), 422, "unknown_parameter")
    assert err["details"]["unknown"] == ["community", "overdue"]
    assert {"community_id", "status", "since", "limit"} <= set(err["details"]["allowed"])
    for url in (
        "/v1/grids?colour=red",
        "/ogc/collections?x=1",
        "/v1/locate?lon=112.9&lat=22.7&radius=5",
        "/healthz?a=1",
    ):
        assert _shape(client.get(url), 422, "unknown_parameter")["details"]["unknown"]
    # Open311 answers in its own error format
    r = client.get("/open311/v2/requests.json?radius=5")
    assert r.status_code == 400 and "radius" in r.json()[0]["description"]


def test_cors_preflight_from_the_allow_list(store, settings):
    app = create_app(settings.model_copy(update={"cors_origins": "https://h5.example.cn"}), store=store)
    with TestClient(app) as c:
        pre = {"Origin": "https://h5.example.cn", "Access-Control-Request-Method": "POST"}
        r = c.options("/v1/cases", headers={**pre, "Access-Control-Request-Headers": "x-api-key,content-type"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://h5.example.cn"
        assert "x-api-key" in r.headers["access-control-allow-headers"].lower()
        assert (
            c.get("/healthz", headers={"Origin": "https://h5.example.cn"}).headers["access-control-allow-origin"]
            == "https://h5.example.cn"
        )
        r = c.options("/v1/cases", headers={**pre, "Origin": "https://evil.example"})
        assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
    assert Settings(cors_origins=" https://a.cn/ ,https://b.cn").cors_origin_list() == ["https://a.cn", "https://b.cn"]


def test_openapi_documents_every_error_status(client):
    spec = client.get("/openapi.json").json()
    ops = {(path, m): op for path, item in spec["paths"].items() for m, op in item.items()}
    codes = lambda path, m: set(ops[(path, m)]["responses"])  # noqa: E731
    assert {"401", "403", "404", "409", "413", "422"} <= codes("/v1/cases/{case_id}/transitions", "post")
    assert {"401", "403", "422"} <= codes("/v1/cases", "get") and "404" not in codes("/v1/cases", "get")
    assert {"404", "422"} <= codes("/v1/locate", "get")
    assert {"400", "403", "404"} <= codes("/open311/v2/requests.{fmt}", "post")
    assert (
        "Open311Errors"
        in ops[("/open311/v2/requests.{fmt}", "post")]["responses"]["400"]["content"]["application/json"]["schema"][
            "$ref"
        ]
    )
    for (path, m), op in ops.items():
        assert ("400" if path.startswith("/open311") else "422") in op["responses"], (path, m)
        for code, resp in op["responses"].items():
            if code >= "400":
                assert resp["content"]["application/json"]["schema"]["$ref"].startswith("#/components/schemas/")
    assert spec["components"]["schemas"]["Error"]["required"] == ["error"]


def test_a_500_is_json_and_the_connection_stays_usable(store, settings):
    import httpx

    from tests.live import serving

    app = create_app(settings, store=store)

    @app.get("/boom", include_in_schema=False)
    def boom():
        raise RuntimeError("a bug")

    with serving(app) as base, httpx.Client(base_url=base) as http:
        r = http.get("/boom")
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal"
        assert http.get("/healthz").status_code == 200  # the same keep-alive connection
