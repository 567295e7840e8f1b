"""Headless Chromium for the report tests: load a local page (with a URL hash), run its JS, read back the DOM.

Chromium is Debian's `chromium` package, installed by `make setup` (Makefile `system-packages`). A missing
browser fails the test (never skips it): CI runs `make setup`, so a missing browser there is a set-up bug.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

RUN_TIMEOUT_S = 60


def chromium() -> str:
    """The chromium binary, or a test failure that says how to install it."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed (Debian package `chromium`): run `make setup`, which installs it")
    return path


def dump_dom(page: Path, fragment: str, profile: Path, extra_args: tuple[str, ...] = ()) -> str:
    """The DOM after the page's scripts ran (`--dump-dom`), `page` opened as file://…#fragment."""
    url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    profile.mkdir(parents=True, exist_ok=True)
    # --no-sandbox: Chromium refuses to start as root with its sandbox; the page is our own file.
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--no-default-browser-check", f"--user-data-dir={profile}", "--virtual-time-budget=2000",
               *extra_args, "--dump-dom", url]
    env = dict(os.environ, HOME=str(profile))  # no writes to the real home (crash reports, caches)
    result = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env, check=False)
    assert result.returncode == 0 and "<html" in result.stdout, (
        f"chromium failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


class ReportDom(HTMLParser):
    """What the tests read from a dumped report: example cards, output panes, summary rows, #shown-count."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.cards: list[dict] = []  # {"id", "strategy", "verdicts", "hidden"}
        self.panes: list[dict] = []  # {"card", "model", "hidden"}
        self.summary_rows: list[str] = []  # data-model of each row of table#summary
        self.ids: dict[str, str] = {}  # text of elements with an id we care about
        self._in_summary = False
        self._capture: str | None = None
        self._depth = 0
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "article" and "example" in classes:
            self.cards.append({"id": attributes.get("id"), "strategy": attributes.get("data-strategy"),
                               "verdicts": attributes.get("data-verdicts"), "hidden": "hidden" in attributes})
        elif tag == "div" and "output" in classes and self.cards:
            self.panes.append({"card": self.cards[-1]["id"], "model": attributes.get("data-model"),
                               "hidden": "hidden" in attributes})
        elif tag == "table" and attributes.get("id") == "summary":
            self._in_summary = True
        elif tag == "tr" and self._in_summary and "data-model" in attributes:
            self.summary_rows.append(attributes["data-model"])
        if attributes.get("id") in ("shown-count", "probe"):
            self._capture = attributes["id"]
            self.ids[self._capture] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_summary = False
        if self._capture and tag in ("strong", "pre"):
            self._capture = None

    def handle_data(self, data: str) -> None:
        if self._capture:
            self.ids[self._capture] += data

    def visible_cards(self) -> list[str]:
        return [card["id"] for card in self.cards if not card["hidden"]]

    def hidden_panes(self) -> set[tuple[str, str]]:
        return {(pane["card"], pane["model"]) for pane in self.panes if pane["hidden"]}
