"""Regenerate the README's screenshots of the tracking page.

While `make run` serves the demo, in another terminal:

    make screenshots                  # PORT=8001 make screenshots when make run has PORT=8001

(which installs the dev extras and Debian's Chromium when missing, then runs
`.venv/bin/python scripts/screenshots.py --base http://127.0.0.1:$PORT`). It writes
docs/screenshots/tracking-{en,de}-{360,1280}.png (EC-DEM-000-001, two packages handed over
between two carriers). `--review DIR` also shoots the verified view, an exception, the home
page and the 404 into DIR for a look before a release.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urljoin
from urllib.request import urlopen

from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.browser import ARGS, CHROMIUM, MISSING, available  # noqa: E402

SHOWCASE = "/track/EC-DEM-000-001/"
WIDTHS = (360, 1280)
MAX_HEIGHT = 4000  # keep the PNGs small: the top of a very long page is what matters


def shoot(page: Page, url: str, path: Path, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(url, wait_until="networkidle")
    height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
    page.set_viewport_size({"width": width, "height": height})
    page.screenshot(path=str(path), full_page=False)
    print(f"{path}  ({width}x{height})")


def verify(page: Page, base: str, reference: str, postcode: str) -> None:
    page.goto(urljoin(base, f"/track/{reference}/"))
    page.fill("#postcode", postcode)
    page.click("form.verify button[type=submit]")
    page.wait_for_load_state("networkidle")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}")
    parser.add_argument("--out", default="docs/screenshots", type=Path)
    parser.add_argument("--review", type=Path, help="also shoot review pages into this folder")
    options = parser.parse_args()
    if not available():
        sys.exit(MISSING)
    try:
        urlopen(urljoin(options.base, "/healthz"), timeout=5).close()
    except (URLError, OSError) as error:
        sys.exit(f"No portal answers at {options.base} ({error}): start `make run` first.")
    options.out.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for language in ("en", "de"):
            context = browser.new_context(locale=language, device_scale_factor=1)
            page = context.new_page()
            for width in WIDTHS:
                url = urljoin(options.base, f"{SHOWCASE}?lang={language}")
                shoot(page, url, options.out / f"tracking-{language}-{width}.png", width)
            context.close()

        if options.review:
            options.review.mkdir(parents=True, exist_ok=True)
            context = browser.new_context(locale="en", device_scale_factor=1)
            page = context.new_page()
            others = {
                "exception": "/track/EC-DEM-000-003/",
                "attempted": "/track/EC-DEM-000-004/",
                "cancelled": "/track/EC-DEM-000-012/",
                "three": "/track/EC-DEM-000-014/",
                "none": "/track/EC-DEM-000-013/",
                "kestrel": "/track/EC-KES-000-001/",
                "fr": "/track/EC-DEM-000-001/?lang=fr",
                "es": "/track/EC-DEM-000-001/?lang=es",
                "home": "/",
                "unknown": "/track/EC-ZZZ-ZZZ-ZZZ/",
                "404": "/no/such/page",
            }
            for name, path in others.items():
                for width in WIDTHS:
                    target = options.review / f"{name}-{width}.png"
                    shoot(page, urljoin(options.base, path), target, width)
            verify(page, options.base, "EC-DEM-000-002", "bs1 4dj")
            for width in WIDTHS:
                shoot(page, page.url, options.review / f"verified-{width}.png", width)
            verify(page, options.base, "EC-DEM-000-001", "BS14DJ")
            for width in WIDTHS:
                shoot(page, page.url, options.review / f"verified-multi-{width}.png", width)
            context.close()
        browser.close()
    assert all(re.match(r"tracking-(en|de)-\d+\.png", p.name) for p in options.out.glob("*.png"))


if __name__ == "__main__":
    main()
