"""A report opened in headless Chromium (Debian's, driven by playwright): what a reader's
browser would complain about, and a screenshot of the first screen."""

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from conftest import ROOT

SHOTS = ROOT / 'relionbench-runs' / 'screenshots'
"""Where the tests keep their screenshots (ignored by git; printed by each test)."""


@dataclass
class Page:
    errors: list = field(default_factory=list)      # console errors and uncaught exceptions
    dialogs: list = field(default_factory=list)     # alert() and the like: a script ran
    remote: list = field(default_factory=list)      # requests that would need the network
    broken: list = field(default_factory=list)      # images that did not load
    text: str = ''                                  # the page's text as shown
    first_screen: str = ''                          # the text of the first screen


def open_report(index, screenshot, size=(1400, 1000)):
    """Load ``index`` (a report's index.html) in headless Chromium, offline, and save the
    first screen as ``screenshot``; returns a Page."""
    from playwright.sync_api import sync_playwright
    found = Page()
    screenshot = Path(screenshot)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=shutil.which('chromium'),
                                         args=['--no-sandbox', '--disable-gpu'])
        try:
            page = browser.new_page(viewport={'width': size[0], 'height': size[1]})
            page.on('console', lambda m: m.type == 'error' and found.errors.append(m.text))
            page.on('pageerror', lambda e: found.errors.append(str(e)))
            page.on('dialog', lambda d: (found.dialogs.append(d.message), d.dismiss()))
            page.route(lambda url: not url.startswith(('file:', 'data:')),
                       lambda route: (found.remote.append(route.request.url), route.abort()))
            page.goto(Path(index).resolve().as_uri(), wait_until='load')
            found.broken = page.evaluate(
                '[...document.images].filter(i => !i.complete || i.naturalWidth === 0)'
                '.map(i => i.getAttribute("src"))')
            found.text = page.inner_text('body')
            found.first_screen = page.evaluate(
                '[...document.querySelectorAll("h1, p, tr")].filter(e => '
                'e.getBoundingClientRect().bottom <= window.innerHeight)'
                '.map(e => e.innerText).join("\\n")')
            page.screenshot(path=str(screenshot))
        finally:
            browser.close()
    print(f'screenshot of the first screen: {screenshot}')
    return found
