"""Property-based fuzzing of every operation of the OpenAPI document (schemathesis over hypothesis), valid and
invalid inputs, with and without keys, plus values the schema does not forbid but no store holds: 0 server errors.

Bounded: a few examples per operation, mode and key (the whole run takes well under a minute per store).
"""

from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

EXAMPLES = 6
#: values that once made 500s, sent in a string query parameter and a JSON body's string field (a lone
#: surrogate only in the body: no client can put one in a URL)
NASTY = ["a\x00b", "99999999999999999999", "-99999999999999999999", "0001-01-01T00:00:00+14:00", "..", "http://["]
NASTY_BODY = [*NASTY, "\ud800", float("nan"), float("inf"), 2**70]


def _operations(client):
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    return [result.ok() for result in schema.get_all_operations()]


def _file(value):
    if isinstance(value, tuple):
        return (value[0], _file(value[1]), *value[2:])
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "backslashreplace")


def _send(client, kwargs: dict):
    kwargs = dict(kwargs)
    kwargs.pop("cookies", None)
    headers = {k: v for k, v in kwargs.pop("headers", {}).items() if k.lower() not in ("connection", "accept-encoding")}
    body = {}
    if "json" in kwargs:
        body["content"] = json.dumps(kwargs.pop("json"), allow_nan=True).encode()
    elif "data" in kwargs:
        data = kwargs.pop("data")
        body["data" if isinstance(data, dict) else "content"] = data
    if "files" in kwargs:
        files = kwargs.pop("files") or []
        items = files.items() if isinstance(files, dict) else files
        body["files"] = [(name, _file(value)) for name, value in items]
    return client.request(
        kwargs.pop("method"), kwargs.pop("url"), headers=headers, params=kwargs.pop("params", None), **body
    )


@pytest.mark.slow
def test_no_operation_answers_500(client, published, auth):
    failures, statuses = [], Counter()
    keys = [{}, auth["reader"], auth["admin"]]
    for op in _operations(client):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(
                case=op.as_strategy(generation_mode=mode),
                key=st.sampled_from(keys),
                nasty=st.sampled_from(NASTY),
                nasty_body=st.sampled_from(NASTY_BODY),
            )
            def run(case, key, nasty, nasty_body):
                if isinstance(case.query, dict):
                    for name, value in list(case.query.items())[:1]:
                        if isinstance(value, str):
                            case.query[name] = nasty
                if isinstance(case.body, dict):
                    for name, value in list(case.body.items())[:1]:
                        if isinstance(value, str):
                            case.body[name] = nasty_body
                try:
                    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=key)
                    r = _send(client, kwargs)
                except (UnicodeEncodeError, httpx.InvalidURL):  # a lone surrogate in the URL or a header, or a
                    return  # query longer than httpx's limit (65,536 characters): no client can send it
                statuses[r.status_code // 100 * 100] += 1
                if r.status_code >= 500:
                    failures.append(f"{kwargs['method']} {r.url} -> {r.status_code} {r.text[:200]}")
                else:
                    assert r.status_code < 500

            try:
                run()
            except Unsatisfiable:  # nothing to make invalid (an operation without parameters)
                assert mode is GenerationMode.NEGATIVE
    assert not failures, "\n".join(failures[:20])
    print(dict(statuses))
    assert statuses[200] >= 50 and statuses[400] >= 200  # it reached the routes, and their refusals
