"""Render a sample instant alert and a sample digest and screenshot them.

    .venv/bin/python scripts/screenshots.py [--out docs]

Needs Debian's `chromium` (apt-get install chromium); not part of CI. The
emails are the built-in samples of `newswatch alerts preview` (Dutch text
written for newswatch), rendered with the package templates, so the PNGs
show what a subscriber's mail client gets. Chromium runs headless with
networking off, as a mail client without remote content would.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from newswatch.alerts.preview import sample_alert, sample_digest
from newswatch.alerts.render import render_alert, render_digest
from newswatch.relevance import load_topics
from newswatch.settings import Subscriber

TOPICS = Path(__file__).resolve().parent.parent / "config" / "topics.yaml"
UNSUBSCRIBE = "https://newswatch.example.org/unsubscribe/voorbeeld-token"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
]


def render_samples() -> dict[str, str]:
    reader = Subscriber(
        email="redactie@example.org",
        name="Anna de Vries",
        topics=["intergemeentelijke-samenwerking"],
        delivery="daily@07:30",
    )
    now = datetime(2026, 11, 25, 6, 30, tzinfo=UTC)
    titles = {t.id: t.title or t.id for t in load_topics(TOPICS).topics}
    instant = render_alert(
        sample_alert(reader, UNSUBSCRIBE, titles), from_addr="newswatch <nw@example.org>"
    )
    digest = render_digest(
        sample_digest(reader, UNSUBSCRIBE, now, titles), from_addr="newswatch <nw@example.org>"
    )
    return {"email-instant": instant.html, "email-digest": digest.html}


def screenshot(chromium: str, html: Path, png: Path, size: str) -> None:
    subprocess.run(  # noqa: S603 - our own file and a browser found on PATH
        [chromium, *CHROMIUM_FLAGS, f"--screenshot={png}", f"--window-size={size}", html.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium not found: apt-get install chromium")
    sizes = {"email-instant": "720,560", "email-digest": "720,800"}
    with tempfile.TemporaryDirectory() as tmp:
        for name, html in render_samples().items():
            page = Path(tmp) / f"{name}.html"
            page.write_text(html, encoding="utf-8")
            png = args.out / f"{name}.png"
            screenshot(chromium, page, png.resolve(), sizes[name])
            print(png)


if __name__ == "__main__":
    main()
