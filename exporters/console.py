"""The one logging setup and progress-bar factory of `python -m exporters`.

(A twin of `mutations.console`: exporters sits on floor 1 and imports nothing of ours.) Library code only
logs; the CLI calls `setup_logging` once, and `--quiet` silences the informational log lines and every
progress bar.
"""

from __future__ import annotations

import logging
import sys

from tqdm import tqdm

_state = {"quiet": False}


def setup_logging(quiet: bool = False, verbose: bool = False) -> None:
    """Configure the root logger for a CLI run: warnings only with --quiet, debug with --verbose."""
    _state["quiet"] = quiet
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)


def is_quiet() -> bool:
    return _state["quiet"]


def progress_bar(*, total: int | None = None, desc: str = "", unit: str = "it", quiet: bool | None = None) -> tqdm:
    """A tqdm bar with counts and rate on stderr (call .update(n)); silent with --quiet or quiet=True."""
    disabled = is_quiet() if quiet is None else quiet
    return tqdm(total=total, desc=desc, unit=unit, disable=disabled, file=sys.stderr, dynamic_ncols=True,
                mininterval=0.5)
