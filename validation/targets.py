"""Target servers: their per-connection settings, timeout errors and known gaps (`targets.yml`), and the
error classes that group failures in the marts and the report."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from .errors import TargetError

__all__ = ["Target", "error_class", "load_target", "target_names"]


@dataclass(frozen=True, slots=True)
class Target:
    """One target's notes. `name` is what the warehouse records (`mariadb`, `mysql`, …)."""

    name: str
    display_name: str
    session: tuple[str, ...]
    timeout_error_codes: frozenset[int]
    missing_functions: frozenset[str]

    def session_statements(self, timeout_s: float, row_cap: int) -> list[str]:
        """The SET statements a connection runs first, with our own numbers formatted in (never user text)."""
        values = {
            "timeout_s": f"{timeout_s:g}",
            "timeout_ms": str(int(round(timeout_s * 1000))),
            "timeout_us": str(int(round(timeout_s * 1_000_000))),
            "row_limit": str(int(row_cap) + 1),
        }
        return [statement.format(**values) for statement in self.session]

    def fingerprint(self) -> str:
        """Part of a run's settings hash: a change of the notes is a change of the run."""
        notes = [self.name, list(self.session), sorted(self.timeout_error_codes), sorted(self.missing_functions)]
        return hashlib.sha256(json.dumps(notes).encode()).hexdigest()


@cache
def _config() -> dict:
    text = resources.files("validation").joinpath("targets.yml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def target_names() -> list[str]:
    return sorted(_config())


def load_target(name: str) -> Target:
    """The notes for `name`; raise TargetError naming the known targets when there are none."""
    config = _config().get(name)
    if config is None:
        raise TargetError(f"unknown target {name!r}: targets.yml knows {', '.join(target_names())}")
    return Target(
        name=name,
        display_name=config["display_name"],
        session=tuple(config["session"]),
        timeout_error_codes=frozenset(config["timeout_error_codes"]),
        missing_functions=frozenset(name.upper() for name in config["missing_functions"]),
    )


_MISSING_FUNCTION = re.compile(r"FUNCTION (?:[\w$]+\.)?([\w$]+) does not exist", re.IGNORECASE)
# The read-only account may not EXECUTE routines, so an unknown function fails the privilege check (1370)
# before the existence check (1305). Validation databases hold no routines: either error means the
# function does not exist on the target.
_DENIED_ROUTINE = re.compile(r"execute command denied to user .* for routine '(?:[\w$]+\.)?([\w$]+)'", re.IGNORECASE)
_OUT_OF_RANGE_EXPRESSION = re.compile(r"( value is out of range in )'.*'$", re.DOTALL)
_QUOTED = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|`(?:[^`]|``)*`")
_NUMBER = re.compile(r"(?<![\w$])-?\d+(?:\.\d+)?(?![\w$])")
_POSITION = re.compile(r" \(?at char \d+\)?|,? at char \d+")


def error_class(status: str, error_code: int | None, error: str | None, target: Target) -> str | None:
    """The failure with what varies between queries removed, so failures group: the database qualifier,
    quoted values and numbers go. A function the target is known to lack is tagged `[known: …]`."""
    if status == "ok":
        return None
    if status in ("refused", "no_database"):
        return f"{status}: {_POSITION.sub('', error or '').strip()}"
    if status != "error":
        return status
    message = error or ""
    missing = _MISSING_FUNCTION.search(message) or _DENIED_ROUTINE.search(message)
    if missing:
        function = missing.group(1)
        text = f"FUNCTION {function.lower()} does not exist"
        if function.upper() in target.missing_functions:
            text += f" [known: {target.display_name} has no {function.upper()}]"
        return text
    message = _OUT_OF_RANGE_EXPRESSION.sub(r"\1'…'", message)
    message = _NUMBER.sub("N", _QUOTED.sub("'…'", message))
    return f"{error_code} {message}".strip()
