"""How long the dashboard takes to show the fleet in headless Chromium (Debian's ``chromium``,
driven by playwright through ``executable_path``, as the dashboard's browser test does): from
navigation start to every environment's services card complete (all its pages appended) and
every service's row in the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]

# every environment's services card has all its pages, and every service has its row
_SHOWN = """([environments, services]) => {
  const envs = [...document.querySelectorAll('[data-environment]')];
  const complete = envs.filter(e => e.querySelector('[data-complete=true]') !== null);
  const rows = document.querySelectorAll('[data-environment] tr[data-service]').length;
  return envs.length >= environments && complete.length >= environments && rows >= services;
}"""


_SLOWEST = """() => performance.getEntriesByType('resource')
  .filter(e => e.initiatorType === 'fetch')
  .map(e => ({path: new URL(e.name).pathname + new URL(e.name).search,
              ms: Math.round(e.duration)}))"""


# when the page's load set body[data-loaded] (every panel of every environment is in)
_COMPLETE = "Number(document.body.dataset.loaded) - performance.timeOrigin"


def dashboard_render(api_url: str, token: str, environments: int, services: int) -> dict[str, Any]:
    """Milliseconds from navigation start to the fleet shown, the best of three page loads
    (a cold browser's first load pays for its own start), with that load's API requests: how
    many, and the slowest ones; and ``whole_page_ms``, that load's time to every panel of every
    environment in (budgets, certificates, deployments, reactions too). Empty without Chromium."""
    if not CHROMIUM.exists():
        print("  no /usr/bin/chromium (make browser): dashboard render not measured")
        return {}
    from playwright.sync_api import sync_playwright

    loads = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            for _ in range(3):
                context = browser.new_context(viewport={"width": 1440, "height": 900})
                page = context.new_page()
                page.goto(f"{api_url}/ui#token={token}")
                page.wait_for_function(
                    _SHOWN, arg=[environments, services], timeout=120_000, polling=20
                )
                ms = float(page.evaluate("performance.now()"))
                page.wait_for_function("() => !!document.body.dataset.loaded", timeout=120_000)
                complete = float(page.evaluate(_COMPLETE))
                fetched = list(page.evaluate(_SLOWEST))
                loads.append((ms, fetched, complete))
                context.close()
        finally:
            browser.close()
    ms, fetched, complete = min(loads, key=lambda load: load[0])
    slowest = sorted(fetched, key=lambda f: -f["ms"])[:5]
    return {
        "ms": round(ms, 1),
        "requests": len(fetched),
        "slowest_requests": slowest,
        "whole_page_ms": round(complete, 1),
    }
