"""The case chain in the system Chromium: a dispatcher signs in and sees a new case appear, assigns it; a grid
worker on a 375-px phone accepts and resolves it with a photo; the dispatcher verifies and closes it; the
ledger shows the chain. No request leaves 127.0.0.1, no console error. Screenshots go to
GRIDGIS_SCREENSHOT_DIR (default: the test's temporary directory) for review."""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .conftest import DISPATCHER, IN_GRID, png, submit

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def store_url(tmp_path_factory):
    """One store is enough for the pages (the JSON routes run on both)."""
    return f"sqlite:///{tmp_path_factory.mktemp('console-browser')}/gridgis.db"


@pytest.fixture
def shots(tmp_path) -> Path:
    out = Path(os.environ.get("GRIDGIS_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


class Watch:
    """Console errors and every request of a browser context; requests off 127.0.0.1 are aborted."""

    def __init__(self, context):
        self.errors: list[str] = []
        self.outside: list[str] = []
        context.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith("data:"):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def page(self, context):
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page


def signed_in(browser, live, key, *, phone=False, lang="zh", **options):
    size = {"width": 375, "height": 812} if phone else {"width": 1366, "height": 860}
    # bypass_csp: the test's own waits are evaluated scripts, which the pages' policy forbids
    context = browser.new_context(viewport=size, is_mobile=phone, has_touch=phone, bypass_csp=True, **options)
    watch = Watch(context)
    page = watch.page(context)
    page.goto(f"{live}/console?lang={lang}")
    page.fill("input[name=secret]", key)
    page.click("button[type=submit]")
    page.wait_for_function("document.body.getAttribute('data-gridgis-ready') === '1'")
    return context, page, watch


def test_case_chain_in_the_browser(browser, live, api, world, shots):
    _, _, worker_key, _ = world
    desk, dpage, dwatch = signed_in(browser, live, DISPATCHER)
    assert dpage.url.endswith("/console/cases?lang=zh")
    cookie = next(c for c in desk.cookies() if c["name"] == "gridgis_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > time.time()

    # a new case shows within 5 s, in the list and on the map
    case = submit(api, description="路灯损坏 broken street light")
    row = dpage.locator(f"#gg-list tr[data-id='{case['id']}']")
    row.wait_for(timeout=5000)
    colour = dpage.evaluate("JSON.parse(document.getElementById('gridgis-boot').textContent).colours.assigned")
    assert row.locator(".gg-badge").evaluate("e => getComputedStyle(e).backgroundColor") == _rgb(colour)
    legend = dpage.locator(".gg-leg", has_text="已派遣").locator(".gg-dot")
    assert legend.evaluate("e => getComputedStyle(e).backgroundColor") == _rgb(colour)
    dpage.screenshot(path=str(shots / "dispatcher-list.png"))

    # the dispatcher opens it (the moves are the server's) and assigns it (today: escalate, then assign)
    row.click()
    dpage.locator("#gg-detail [data-move]").first.wait_for()
    moves = dpage.locator("#gg-detail [data-move]").evaluate_all("bs => bs.map(b => b.dataset.move)")
    assert moves and set(moves) <= set(_server_moves(api, case["id"]))
    if "assigned" not in moves:
        dpage.click("#gg-detail [data-move=escalated]")
        dpage.locator("#gg-detail .gg-badge[data-status=escalated]").first.wait_for()
    row.locator("input[type=checkbox]").check()
    dpage.fill("#gg-bulk-assignee", "王五")
    dpage.click("#gg-bulk-assign")
    dpage.wait_for_function("document.getElementById('gg-bulk-msg').textContent.includes(': 1')")
    assert _case(api, case["id"])["assignee_name"] == "王五"
    dpage.screenshot(path=str(shots / "dispatcher-assigned.png"))

    # the grid worker, on a phone, accepts it and resolves it with a photo
    phone, wpage, wwatch = signed_in(browser, live, worker_key, phone=True)
    assert wpage.url.endswith("/console/worker?lang=zh")
    card = wpage.locator(f"#gg-mine li[data-id='{case['id']}']")
    card.wait_for()
    assert wpage.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
    nav = card.locator("a", has_text="导航").get_attribute("href")
    assert nav.startswith("https://uri.amap.com/marker?position=") and "coordinate=gaode" in nav
    wpage.screenshot(path=str(shots / "worker-list.png"), full_page=True)
    # the level filter (a community or town handler's view of the cases escalated to it)
    level = _case(api, case["id"])["level"]
    wpage.select_option("#gg-level", "town" if level != "town" else "grid")
    card.wait_for(state="detached")
    wpage.select_option("#gg-level", level)
    card.wait_for()
    accept = card.locator("[data-move=in_progress], [data-move=accepted]").first
    accept.click()
    card.locator("[data-move=in_progress]").click()  # issue 15: accepted, then in progress
    card.locator("[data-move=resolved]").wait_for()
    card.locator("[data-move=resolved]").click()
    panel = wpage.locator("#gg-detail")
    panel.locator("input[type=file]").set_input_files({"name": "现场.png", "mimeType": "image/png", "buffer": png()})
    panel.locator("button", has_text="上传照片").click()
    panel.locator(".gg-photos img").wait_for()
    loaded = (
        "i => i.complete ? i.naturalWidth"
        " : new Promise(r => { i.onload = () => r(i.naturalWidth); i.onerror = () => r(0); })"
    )
    assert panel.locator(".gg-photos img").evaluate(loaded) == 8  # the uploaded photo, served back and decoded
    added = panel.locator(".gg-history li").filter(has=wpage.locator(".gg-note-badge", has_text="照片"))
    assert added.count() == 1  # the upload is in the history, by the worker who made it
    panel.locator("textarea[name=note]").fill("已到现场")  # a note without a move
    panel.locator("[data-action=note]").click()
    wpage.wait_for_function("document.querySelector('#gg-detail .gg-history').textContent.includes('已到现场')")
    noted = panel.locator(".gg-history li").filter(has_text="已到现场")
    assert noted.locator(".gg-badge").inner_text() == "备注"  # labelled a note, not a second 已接单
    panel.locator("textarea[name=note]").fill("已修复")
    wpage.screenshot(path=str(shots / "worker-resolve.png"))
    panel.locator("[data-move=resolved]").click()
    panel.locator("dd .gg-badge[data-status=resolved]").wait_for()
    wpage.screenshot(path=str(shots / "worker-resolved.png"))

    # someone else (the dispatcher) verifies and closes it, from the detail
    dpage.wait_for_function(
        f"document.querySelector(\"#gg-list tr[data-id='{case['id']}'] .gg-badge\").dataset.status === 'resolved'",
        timeout=5000,
    )
    row.click()
    close = dpage.locator("#gg-detail [data-move=closed], #gg-detail [data-move=verified]").first
    close.wait_for()
    close.click()
    done = "#gg-detail dd .gg-badge[data-status=closed], #gg-detail dd .gg-badge[data-status=verified]"
    dpage.locator(done).wait_for()
    history = dpage.locator("#gg-detail .gg-history li").all_inner_texts()
    assert len(history) >= 6 and "已修复" in " ".join(history)
    assert dpage.locator("#gg-detail .gg-photos img").count() == 1
    # the call-back to the reporter (回访) with their rating
    dpage.fill("#gg-detail textarea[name=note]", "居民满意")
    dpage.select_option("#gg-detail select[name=rating]", "5")
    dpage.click("#gg-detail [data-action=callback]")
    dpage.wait_for_function("document.querySelector('#gg-detail .gg-history').textContent.includes('回访: 居民满意')")
    assert _case(api, case["id"])["rating"] == 5
    dpage.screenshot(path=str(shots / "dispatcher-closed.png"))

    # the ledger shows the chain, with the people who moved it
    events = api.get(f"/v1/cases/{case['id']}", headers={"X-API-Key": DISPATCHER}).json()["events"]
    chain = [e["to_status"] for e in events]
    assert chain[0] == "reported" and chain[-1] in ("closed", "verified")
    accepted = "in_progress" if "in_progress" in chain else "accepted"
    assert "resolved" in chain and chain.index("resolved") > chain.index(accepted)
    actors = {e["to_status"]: e["actor"] for e in events}
    assert actors["resolved"].startswith("worker:") and actors[chain[-1]].startswith("dispatcher:")
    ledger = api.get("/v1/cases.csv", headers={"X-API-Key": DISPATCHER}).text
    assert f"\n{case['id']}," in ledger

    for watch in (dwatch, wwatch):
        assert watch.errors == [] and watch.outside == []
    desk.close()
    phone.close()


def test_patrol_report_with_the_phone_location(browser, live, world, shots):
    geo = {"longitude": IN_GRID[0], "latitude": IN_GRID[1]}
    phone, page, watch = signed_in(
        browser, live, world[2], phone=True, lang="en", geolocation=geo, permissions=["geolocation"]
    )
    page.click("#gg-patrol summary")
    page.select_option("#gg-patrol-form select[name=category]", "fire")
    page.fill("#gg-patrol-form textarea", "Fire exit blocked by bikes")
    page.click("#gg-locate")
    page.wait_for_function("!document.querySelector('#gg-patrol-form button[type=submit]').disabled")
    page.click("#gg-patrol-form button[type=submit]")
    page.wait_for_function("document.getElementById('gg-where').textContent.startsWith('done #')")
    case_id = page.inner_text("#gg-where").split("#")[1]
    page.locator(f"#gg-mine li[data-id='{case_id}']").wait_for()
    page.screenshot(path=str(shots / "worker-patrol.png"), full_page=True)
    assert watch.errors == [] and watch.outside == []
    phone.close()


def test_docs_pages_render_offline(browser, live, shots):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    watch = Watch(context)
    page = watch.page(context)
    page.goto(f"{live}/docs")
    page.locator(".opblock").first.wait_for()
    page.screenshot(path=str(shots / "docs.png"))
    page.goto(f"{live}/redoc")
    page.get_by_text("/console/api/cases", exact=False).first.wait_for()
    page.screenshot(path=str(shots / "redoc.png"))
    assert watch.outside == [] and watch.errors == []
    context.close()


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _case(api, case_id: int) -> dict:
    return api.get(f"/v1/cases/{case_id}", headers={"X-API-Key": DISPATCHER}).json()


def _server_moves(api, case_id: int) -> list[str]:
    case = _case(api, case_id)
    return case.get("allowed_moves") or case["allowed_transitions"]


def test_review_page(browser, live, api, shots):
    submit(api)
    context, page, watch = signed_in(browser, live, DISPATCHER, lang="en")
    page.goto(f"{live}/console/review?lang=en&unit=community")
    rows = page.locator(".gg-review-table tbody tr").all_inner_texts()
    assert rows and rows[0].split("\t")[:2] == ["雅瑶东社区", "440784101001"]  # names, codes beside them
    href = page.locator("a", has_text="Export XLSX").get_attribute("href")
    assert href.startswith("/console/review.xlsx?month=") and "unit=community" in href
    page.screenshot(path=str(shots / "review.png"))
    assert watch.errors == [] and watch.outside == []
    context.close()


def test_community_handler_signs_in_with_a_password_and_works_escalated_cases(browser, live, app, api, shots):
    """A community secretary (a person posted to the community, no key) signs in with phone and password, sees
    the cases escalated to them (a new one within 5 s), opens one beside the map (not over it) and accepts it."""
    from gridgis.cases.people import RosterRow, person_id_of

    phone_no, password = "13900000011", "secretary passphrase"
    row = RosterRow(1, "community", "440784101001", "李书记", "leader", phone_no, "", "")
    app.state.gridgis.cases.people.apply([row])
    person = person_id_of(row.name, row.phone, "community:440784101001")
    app.state.console.logins.set_password(person, password, by="test")
    desk = {"X-API-Key": DISPATCHER}
    first = submit(api, description="井盖缺失 missing manhole cover")
    assert api.post(f"/v1/cases/{first['id']}/transitions", json={"to": "escalated"}, headers=desk).status_code == 200

    context = browser.new_context(viewport={"width": 1366, "height": 860}, bypass_csp=True)
    watch = Watch(context)
    page = watch.page(context)
    page.goto(f"{live}/console")
    page.fill("input[name=account]", phone_no)
    page.fill("input[name=secret]", password)
    page.click("button[type=submit]")
    page.wait_for_function("document.body.getAttribute('data-gridgis-ready') === '1'")
    assert page.url.endswith("/console/cases?lang=zh") and "李书记" in page.inner_text(".gg-who")
    assert page.is_checked("#gg-mine-only") and page.locator("#gg-bulk-assign").count() == 0
    listed = page.locator("#gg-list tbody tr[data-id]").evaluate_all("rs => rs.map(r => r.dataset.id)")
    assert str(first["id"]) in listed  # and besides it only the community's cases waiting for its check
    others = [api.get(f"/v1/cases/{i}", headers=desk).json()["status"] for i in listed if i != str(first["id"])]
    assert set(others) <= {"resolved", "verified"}
    # a case escalated to them now shows within 5 s
    second = submit(api, description="占道经营 street stall")
    assert api.post(f"/v1/cases/{second['id']}/transitions", json={"to": "escalated"}, headers=desk).status_code == 200
    page.locator(f"#gg-list tr[data-id='{second['id']}']").wait_for(timeout=5000)
    # the detail opens beside the map, which stays whole, named by the units' names
    page.locator(f"#gg-list tr[data-id='{first['id']}']").click()
    page.locator("#gg-detail [data-move=accepted]").wait_for()
    detail, pane = page.locator("#gg-detail").bounding_box(), page.locator(".gg-map-pane").bounding_box()
    assert detail["x"] + detail["width"] <= pane["x"] + 1 and pane["width"] >= 300
    assert "雅瑶东社区" in page.inner_text("#gg-detail dl")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    page.screenshot(path=str(shots / "handler-detail-1366.png"))
    page.click("#gg-detail [data-move=accepted]")
    page.locator("#gg-detail dd .gg-badge[data-status=accepted]").wait_for()
    events = api.get(f"/v1/cases/{first['id']}", headers=desk).json()["events"]
    assert events[-1]["to_status"] == "accepted" and events[-1]["actor"].startswith("李书记")
    latest = page.locator("#gg-detail .gg-history li").last
    latest.filter(has_text="李书记").wait_for()  # the history names the person; their key only on hover
    assert "[" not in latest.inner_text() and "p-" in latest.locator("span[title]").get_attribute("title")
    # the same page on a phone: one column, the detail over the page
    page.set_viewport_size({"width": 375, "height": 812})
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
    page.screenshot(path=str(shots / "handler-detail-375.png"))
    assert watch.errors == [] and watch.outside == []
    context.close()
