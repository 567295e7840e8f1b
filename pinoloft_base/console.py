"""The one logging setup and progress-bar factory of every pinoloft command line.

Library code only logs and asks for bars; the CLI runner calls `setup_logging` once. `--quiet` silences the
informational log lines and every bar. Bars are drawn only when stderr is a terminal (a log file or a CI
console would get a line per redraw), and log lines go out through the bars' own writer, so a message
printed while a bar runs lands above the bar instead of being cut into it.
"""

from __future__ import annotations

import logging
import sys

from tqdm import tqdm

__all__ = ["BarAwareHandler", "is_quiet", "progress_bar", "setup_logging"]

_state = {"quiet": False}
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
CHATTY_LIBRARY_LOGGERS = ("httpx", "httpx2", "httpcore", "urllib3")


class BarAwareHandler(logging.Handler):
    """Writes records to stderr through `tqdm.write`, which clears any live bar, prints, and redraws it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # logging must never raise into the caller
            self.handleError(record)


def setup_logging(quiet: bool = False, verbose: bool = False) -> None:
    """Configure the root logger for a CLI run: warnings only with --quiet, debug with --verbose."""
    _state["quiet"] = quiet
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    handler = BarAwareHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # HTTP clients log every request at INFO (one line per chat completion during an evaluation): only with -v.
    for name in CHATTY_LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)


def is_quiet() -> bool:
    return _state["quiet"]


def progress_bar(*, total: int | None = None, desc: str = "", unit: str = "it", quiet: bool | None = None) -> tqdm:
    """A tqdm bar with counts and rate on stderr (call .update(n)); silent with --quiet or quiet=True, and
    when stderr is not a terminal."""
    disabled = is_quiet() if quiet is None else quiet
    return tqdm(total=total, desc=desc, unit=unit, disable=True if disabled else None, file=sys.stderr,
                dynamic_ncols=True, mininterval=0.5)
