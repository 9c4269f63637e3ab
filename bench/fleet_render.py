"""How long the dashboard takes to show the fleet in headless Chromium (Debian's ``chromium``,
driven by playwright through ``executable_path``, as the dashboard's browser test does): from
navigation start to every environment's services panel showing its services."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]

# every environment section shows at least one service row, and there are ``n`` of them
_SHOWN = """n => {
  const envs = [...document.querySelectorAll('[data-environment]')];
  return envs.length >= n && envs.every(
    e => e.querySelector('[data-panel=services] tr[data-service]') !== null);
}"""


def dashboard_render_ms(api_url: str, token: str, environments: int) -> float | None:
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
                page.wait_for_function(_SHOWN, arg=environments, timeout=60_000, polling=20)
                timings.append(float(page.evaluate("performance.now()")))
                context.close()
        finally:
            browser.close()
    return round(min(timings), 1)
