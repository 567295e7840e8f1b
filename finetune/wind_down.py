"""OpenAI's fine-tuning wind-down: the dates (from `finetune/config/openai_wind_down.yml`, their one place), the
timeline the OpenAI dry run prints, and the one line a refused submission ends with.

What is said, and where: the timeline only for OpenAI itself (`api.openai.com`: the default endpoint), never for
Azure OpenAI (its own schedule) or another `base_url`; the refusal line on the OpenAI provider (any `base_url`, since
it is recognised by OpenAI's own error code and message), never on Azure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import yaml

__all__ = ["WIND_DOWN_PATH", "WindDown", "wind_down", "timeline_lines", "shows_timeline", "is_unavailable_refusal",
           "refusal_line"]

WIND_DOWN_PATH = Path(__file__).resolve().parent / "config" / "openai_wind_down.yml"
OPENAI_HOST = "api.openai.com"
# What OpenAI answers when a model cannot be fine-tuned (400, code `model_not_available`, "Model … is not available
# for fine-tuning or does not exist."), or an organisation may no longer fine-tune (403 naming fine-tuning).
_UNAVAILABLE_CODES = frozenset({"model_not_available"})
_UNAVAILABLE_MESSAGE = re.compile(
    r"not available for fine-?tuning|fine-?tuning (?:is |has been )?(?:not available|no longer available|"
    r"unavailable|not enabled|disabled|closed)|(?:not (?:allowed|permitted|eligible)|no longer able) to "
    r"(?:create |use )?(?:a )?fine-?tun", re.IGNORECASE)


@dataclass(frozen=True)
class WindDown:
    checked: str  # when the reports were last checked, e.g. "2026-12"
    events: tuple[tuple[date, str], ...]  # (date, what happens), in date order
    alternatives: str


@lru_cache(maxsize=1)
def wind_down(path: Path = WIND_DOWN_PATH) -> WindDown:
    """The table; a malformed one is a programming error (it ships with the package), so it raises as it is."""
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    events = tuple(sorted((event["date"], str(event["what"])) for event in table["events"]))
    if not all(isinstance(when, date) for when, _ in events):
        raise ValueError(f"{path}: every event needs a date written YYYY-MM-DD")
    return WindDown(str(table["checked"]), events, " ".join(str(table["alternatives"]).split()))


def shows_timeline(provider: str, endpoint: str) -> bool:
    """Whether the dry run speaks of the wind-down: OpenAI's own API only (not Azure, not another base_url)."""
    return provider == "openai" and (urlsplit(endpoint).hostname or "").lower() == OPENAI_HOST


def _distance(when: date, today: date) -> str:
    days = (when - today).days
    if days == 0:
        return "today"
    unit = "day" if abs(days) == 1 else "days"
    return f"{days} {unit} left" if days > 0 else f"{-days} {unit} ago"


def timeline_lines(today: date) -> list[str]:
    """The dry run's lines (indented like the plan's): each date, what happens, and how far it is from `today`."""
    table = wind_down()
    lines = [f"  OpenAI fine-tuning wind-down, as publicly reported (checked {table.checked}); today is "
             f"{today.isoformat()}:"]
    lines += [f"    {when.isoformat()}  {what} ({_distance(when, today)})" for when, what in table.events]
    lines.append(f"  alternatives: {table.alternatives}")
    return lines


def is_unavailable_refusal(status: int, code: str | None, message: str) -> bool:
    """Whether an answer is OpenAI refusing because the model, or fine-tuning, is not available (any more)."""
    if status not in (400, 403, 404):
        return False
    return (code or "") in _UNAVAILABLE_CODES or bool(_UNAVAILABLE_MESSAGE.search(message or ""))


def refusal_line(what: str, status: int, message: str) -> str:
    """One line: what was refused and why (the service's words), the wind-down's dates, and the alternatives."""
    table = wind_down()
    dates = "; ".join(f"{when.isoformat()} {text}" for when, text in table.events)
    return (f"{what}: {status} refused: {message.rstrip('.')}. OpenAI's fine-tuning wind-down, as publicly reported "
            f"(checked {table.checked}): {dates}. Alternatives: {table.alternatives}")
