"""The web dashboard in a real browser: headless Chromium (Debian's ``chromium``, installed by
``make browser``) driven by playwright against the local stack, after a deploy and an alarm.

Writes ``.opsbot/dashboard.png`` (and ``.opsbot/dashboard-signin.png``)."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, TOKEN, Stack, wait_for
from tests.e2e.test_slack import command

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = ROOT / ".opsbot"
DEMO = "[data-environment=demo]"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    assert CHROMIUM.exists(), "no /usr/bin/chromium: run `make browser` (Debian's chromium)"
    from playwright.sync_api import sync_playwright  # pinned in requirements-dev.txt

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: _console(errors, msg))
    yield page
    context.close()
    assert not errors, errors  # no script error, no CSP violation


def _console(errors: list[str], msg: Any) -> None:
    """Console errors, but the 401 an expired token gets on purpose and the browser's own ask
    for /favicon.ico (the page has none)."""
    url = str((msg.location or {}).get("url", ""))
    if msg.type == "error" and "status of 401" not in msg.text and "favicon" not in url:
        errors.append(f"{msg.text} ({url})")


def _row_text(page: Any, selector: str) -> str:
    page.wait_for_selector(selector, timeout=20_000)
    return str(page.locator(selector).first.inner_text())


def test_the_dashboard_shows_services_a_deploy_a_reaction_budgets_and_certificates(
    stack: Stack, page: Any
) -> None:
    # what the README tour does: a deploy and an alarm
    posted = stack.request(
        "POST", "/deployments", json={"environment": "demo", "service": "web", "tag": "1.1"}
    )
    assert posted.status_code == 202, posted.text
    deployment = stack.wait_deployment(posted.json()["id"])
    stack.reset_cooldowns()
    assert stack.control("alarm", "web-cpu-high", "ALARM").returncode == 0
    wait_for(
        lambda: any(
            a["actor"] == "alarm:web-cpu-high"
            for a in stack.request("GET", "/audit?environment=demo&limit=20").json()["items"]
        )
    )
    services = {s["service"]: s for s in stack.request("GET", "/services/demo").json()["items"]}
    (budget,) = [
        b
        for b in stack.request("GET", "/budgets?environment=demo").json()["items"]
        if b["name"] == "monthly-ops"
    ]

    page.goto(f"{stack.api_url}/ui#token={TOKEN}")
    # the token leaves the address bar (and stays in this tab's sessionStorage)
    wait_for(lambda: "#token" not in page.url, timeout=10)
    assert page.evaluate("sessionStorage.getItem('opsbot-token')") == TOKEN

    for name in ("web", "api"):
        row = f"{DEMO} [data-panel=services] tr[data-service={name}]"
        text = _row_text(page, row)
        image_cell = page.locator(f"{row} td.mono").first
        assert image_cell.get_attribute("title") == services[name]["image"]
        assert image_cell.inner_text() and image_cell.inner_text() in text
        assert f"{services[name]['running']} / {services[name]['desired']}" in text
        assert f"{services[name]['min']} .. {services[name]['max']}" in text

    # what changed on web opens under its row: the deploy is in it
    services_panel = f"{DEMO} [data-panel=services]"
    page.click(f"{services_panel} tr[data-service=web] button[data-action=changes]")
    changes = f"{services_panel} tr[data-changes=web] tr[data-source=opsbot]"
    wait_for(lambda: deployment["id"] in " ".join(page.locator(changes).all_inner_texts()))

    deploy_row = _row_text(page, f"{DEMO} tr[data-deployment='{deployment['id']}']")
    assert deployment["status"] in deploy_row and "web" in deploy_row
    assert re.search(r"\d+ (s|min)", deploy_row)  # its duration

    reactions = _row_text(page, f"{DEMO} [data-panel=reactions] tbody tr")
    assert "web-cpu-high" in reactions

    burn = _row_text(page, f"{DEMO} [data-budget=monthly-ops]")
    assert f"spend {budget['actual']:.2f} USD" in burn
    assert f"limit {budget['limit']:.2f} USD" in burn
    width = page.eval_on_selector(f"{DEMO} [data-budget=monthly-ops] .spend", "e => e.style.width")
    assert float(width.rstrip("%")) > 0

    # the listener's certificate (a rotation earlier in the session leaves the old one unserved)
    certs = f"{DEMO} [data-panel=certificates] tr[data-domain='demo.example.com']"
    _row_text(page, certs)
    served = [t for t in page.locator(certs).all_inner_texts() if "demo-alb:443" in t]
    assert served and re.search(r"\d+ days", served[0]), page.locator(certs).all_inner_texts()

    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)

    # it refreshes itself: the OK reaction appears without a reload
    newest = reactions
    assert stack.control("alarm", "web-cpu-high", "OK").returncode == 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and newest == reactions:
        time.sleep(0.5)
        newest = page.locator(f"{DEMO} [data-panel=reactions] tbody tr").first.inner_text()
    assert newest != reactions and "web-cpu-high" in newest


def test_the_slack_link_signs_in_read_only_and_stops_working_after_its_hour(
    stack: Stack, page: Any
) -> None:
    reply = command(stack, "U0DEMOVIEW", "dashboard")
    assert reply.status_code == 200
    body = reply.json()
    assert body["response_type"] == "ephemeral"
    link = re.search(r"<([^|>]+)\|", body["text"])
    assert link, body
    url = link.group(1)
    assert url.startswith(f"{stack.api_url}/ui#token=opsbot-read-")
    token = url.split("#token=", 1)[1]

    assert stack.request("GET", "/services/demo", token=token).status_code == 200
    scale = stack.request("POST", "/services/demo/web/scale", token=token, json={"desired": 2})
    assert scale.status_code == 403

    page.goto(url)
    assert "web" in _row_text(page, f"{DEMO} [data-panel=services] tr[data-service=web]")
    assert "#token" not in page.url

    # an hour later (its expiry moved into the past in the state table, as the clock would)
    ddb = stack.aws("dynamodb")
    items = ddb.scan(
        TableName="opsbot-state",
        FilterExpression="begins_with(pk, :p)",
        ExpressionAttributeValues={":p": {"S": "TOKEN#"}},
    )["Items"]
    key = f"TOKEN#{hashlib.sha256(token.encode()).hexdigest()}"
    (item,) = [i for i in items if i["pk"]["S"] == key]
    ddb.update_item(
        TableName="opsbot-state",
        Key={"pk": item["pk"], "sk": item["sk"]},
        UpdateExpression="SET valid_until = :t",
        ExpressionAttributeValues={":t": {"N": str(int(time.time()) - 1)}},
    )
    expired = stack.request("GET", "/environments", token=token)
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "unauthorized"

    page.click("#refresh")
    page.wait_for_selector("#signin:not([hidden])", timeout=15_000)
    assert "refused" in page.inner_text("#signin-error")
    assert page.evaluate("sessionStorage.getItem('opsbot-token')") is None
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "dashboard-signin.png"))

    # a new link, pasted into the form, signs in again
    fresh = re.search(r"<([^|>]+)\|", command(stack, "U0DEMOVIEW", "dashboard").json()["text"])
    assert fresh
    page.fill("#token-input", fresh.group(1))
    page.click("#token-form button")
    page.wait_for_selector(f"{DEMO} [data-panel=services] tr[data-service=web]", timeout=15_000)


def test_the_page_with_a_trailing_slash_is_sent_to_the_one_whose_links_work(
    stack: Stack,
) -> None:
    """``/ui/`` would load ``/ui/ui/dashboard.js`` and read ``/ui/deployments``: a blank page."""
    moved = stack.request("GET", "/ui/", token=None, allow_redirects=False)
    assert moved.status_code == 308 and moved.headers["Location"] == "../ui"
    followed = stack.request("GET", "/ui/#token=x", token=None)
    assert followed.status_code == 200 and followed.url == f"{stack.api_url}/ui#token=x"
    assert 'src="ui/dashboard.js"' in followed.text


def test_the_services_panel_pages_through_every_service(stack: Stack, page: Any) -> None:
    """One service per request (``/ui?page=1``): every service of demo still shows, fetched
    across pages with the API's ``next`` cursor."""
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/services/demo" in r.url else None)
    names = sorted(s["service"] for s in stack.request("GET", "/services/demo").json()["items"])
    assert len(names) >= 2

    page.goto(f"{stack.api_url}/ui?page=1#token={TOKEN}")
    panel = f"{DEMO} [data-panel=services]"
    page.wait_for_selector(f"{panel}[data-complete=true]", timeout=20_000)
    shown = page.eval_on_selector_all(
        f"{panel} tr[data-service]", "rows => rows.map(r => r.dataset.service)"
    )
    assert shown == names
    assert page.locator(f"{panel} h3 .count").inner_text() == str(len(names))
    pages = [u for u in asked if "limit=1" in u]
    assert len(pages) >= len(names) and sum("next=" in u for u in pages) >= len(names) - 1


def test_a_refresh_reads_lists_once_and_keeps_the_rows_that_did_not_change(
    stack: Stack, page: Any
) -> None:
    """Deployments and audit entries are read once for every environment (not once per
    environment), and on a refresh a service whose data did not change keeps its row."""
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    page.goto(f"{stack.api_url}/ui?page=1#token={TOKEN}")
    panel = f"{DEMO} [data-panel=services]"
    page.wait_for_selector(f"{panel}[data-complete=true]", timeout=20_000)
    page.wait_for_selector("body[data-loaded]", timeout=20_000)
    assert [u for u in asked if "/deployments?" in u] == [f"{stack.api_url}/deployments?limit=100"]
    assert [u for u in asked if "/audit?" in u] == [f"{stack.api_url}/audit?limit=200"]

    before = stack.request("GET", "/services/demo?limit=100").json()["items"]
    page.eval_on_selector_all(
        f"{panel} tr[data-service]", "rows => rows.forEach(r => r.dataset.mark = 'old')"
    )
    loaded = page.get_attribute("body", "data-loaded")
    page.click("#refresh")
    page.wait_for_function(f"() => document.body.dataset.loaded !== '{loaded}'", timeout=20_000)
    after = stack.request("GET", "/services/demo?limit=100").json()["items"]
    same = sorted(b["service"] for b in before if b in after)
    kept = page.eval_on_selector_all(
        f"{panel} tr[data-service][data-mark=old]", "rows => rows.map(r => r.dataset.service)"
    )
    assert same and sorted(kept) == same
