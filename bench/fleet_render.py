"""How long the dashboard takes to show the fleet in headless Chromium (Debian's ``chromium``,
driven by playwright through ``executable_path``, as the dashboard's browser test does): from
navigation start to every environment's services card complete (all its pages appended) and
every service's row in the page."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]

# every environment's services card has all its pages, and every service has its row
_SHOWN = """([environments, services]) => {
  const envs = [...document.querySelectorAll('[data-environment]')];
  const complete = envs.filter(e => e.querySelector('[data-complete=true]') !== null);
  const rows = document.querySelectorAll('[data-environment] tr[data-service]').length;
  return envs.length >= environments && complete.length >= environments && rows >= services;
}"""


def dashboard_render_ms(api_url: str, token: str, environments: int, services: int) -> float | None:
    """Milliseconds from navigation start to the fleet shown, the best of three page loads
    (a cold browser's first load pays for its own start); None without Chromium."""
    if not CHROMIUM.exists():
        print("  no /usr/bin/chromium (make browser): dashboard render not measured")
        return None
    from playwright.sync_api import sync_playwright

    timings = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            for _ in range(3):
                context = browser.new_context(viewport={"width": 1440, "height": 900})
                page = context.new_page()
                page.goto(f"{api_url}/ui#token={token}")
                page.wait_for_function(
                    _SHOWN, arg=[environments, services], timeout=60_000, polling=20
                )
                timings.append(float(page.evaluate("performance.now()")))
                context.close()
        finally:
            browser.close()
    return round(min(timings), 1)
