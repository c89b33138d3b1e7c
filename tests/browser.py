"""Debian's Chromium for the browser tests (and scripts/screenshots.py): where it is, and the
flags that let it run headless on a machine whose network is closed."""

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
MISSING = "BROWSER TESTS SKIPPED: /usr/bin/chromium is missing (sudo apt-get install chromium)"


def available() -> bool:
    return Path(CHROMIUM).exists()
