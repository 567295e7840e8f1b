"""The command-line runner every pinoloft command uses: global options, the exit-code table, one error path.

A package's CLI builds its argparse parser with `global_options` (before the subcommand) and hands its
subcommands `after_subcommand` as a parent (so `--quiet` or `--warehouse` after the subcommand work too);
each subcommand sets `handler` (args -> exit code). `run` parses, sets up logging once, calls the handler,
and turns exceptions into a one-line `error: …` on stderr and the code of the table below.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version

from .console import setup_logging
from .errors import (EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, EXIT_SERVICE, EXIT_USAGE, EXIT_WAREHOUSE_BUSY,
                     PinoloftError)
from .warehouse import DEFAULT_WAREHOUSE

__all__ = ["EXIT_CODES", "EXIT_CODES_HELP", "after_subcommand", "command_parser", "global_options", "jobs_option",
           "pinoloft_version", "run", "subcommand"]

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "ok",
    EXIT_FINDINGS: "findings: the step ran and found something wrong (a failed check or test, a refused "
                   "statement, warnings under --strict, a failed job)",
    EXIT_USAGE: "usage or input error: a bad option, a missing or invalid file, config or dataset name, "
                "no warehouse at the path",
    EXIT_WAREHOUSE_BUSY: "the warehouse is in use by another process (a writing stage): wait for it, then rerun",
    EXIT_SERVICE: "a service outside failed or refused: the fine-tuning API, the database server, a model server",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C): what was committed stays, rerunning resumes",
}
EXIT_CODES_HELP = "exit codes:\n" + "\n".join(f"  {code:<4} {text}" for code, text in EXIT_CODES.items())


def _add_globals(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    def default(value):
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--warehouse", "-w", default=default(DEFAULT_WAREHOUSE), metavar="PATH",
                        help=argparse.SUPPRESS if suppress else f"the DuckDB warehouse (default {DEFAULT_WAREHOUSE})")
    parser.add_argument("--quiet", "-q", action="store_true", default=default(False),
                        help=argparse.SUPPRESS if suppress else "no progress bars or informational logs")
    parser.add_argument("--verbose", "-v", action="store_true", default=default(False),
                        help=argparse.SUPPRESS if suppress else "debug logs")


def pinoloft_version() -> str:
    """The installed distribution's version (`0+unknown` in a checkout that was never installed)."""
    try:
        return version("pinoloft")
    except PackageNotFoundError:
        return "0+unknown"


def global_options(parser: argparse.ArgumentParser) -> None:
    """Add the global options (`--warehouse/-w`, `-q/--quiet`, `-v/--verbose`, `--version`) to a command's
    top-level parser; `--version` prints `pinoloft <version>` whichever command it is."""
    _add_globals(parser, suppress=False)
    parser.add_argument("--version", action="version", version=f"pinoloft {pinoloft_version()}")


def after_subcommand() -> argparse.ArgumentParser:
    """A parent parser for subcommands: the global options accepted after the subcommand as well, overriding
    those before it only when given (hidden from the subcommand's help)."""
    parent = argparse.ArgumentParser(add_help=False)
    _add_globals(parent, suppress=True)
    return parent


def command_parser(prog: str, description: str) -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """A command's top-level parser with the global options and the exit-code table as its epilog, and the
    subparsers object its subcommands are added to (with `subcommand`)."""
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=EXIT_CODES_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    global_options(parser)
    return parser, parser.add_subparsers(dest="command", required=True, metavar="COMMAND")


def subcommand(commands: argparse._SubParsersAction, name: str, **kwargs) -> argparse.ArgumentParser:
    """A subcommand that also takes the global options after its name (`after_subcommand`); its description
    is its help unless given. Other keyword arguments go to argparse's add_parser."""
    kwargs.setdefault("description", kwargs.get("help"))
    return commands.add_parser(name, parents=[after_subcommand()], **kwargs)


def jobs_option(parser: argparse.ArgumentParser, what: str, default: int | None = None) -> None:
    """The one name for parallelism: `--jobs/-j N` (`what` says what runs in parallel)."""
    shown = "all cores" if default is None else str(default)
    parser.add_argument("--jobs", "-j", type=_positive_int, default=default, metavar="N",
                        help=f"{what} in parallel (default: {shown})")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None, *,
        interrupted: str = "interrupted: what was committed stays; rerun to continue",
        errors: Callable[[BaseException], int | None] | None = None) -> int:
    """Parse `argv`, set up logging, run the chosen handler, and return its exit code.

    A `PinoloftError` prints `error: <message>` and exits with its `exit_code`; an OSError (a path that
    cannot be read or written) is an input error; Ctrl-C prints `interrupted` (or the subcommand's
    `interrupted_message` default) and exits 130. `errors` may
    map other exception types of a package to a code (None: not handled here, re-raised).
    """
    args = parser.parse_args(argv)
    # A subcommand may say what Ctrl-C leaves behind in its own words (set_defaults(interrupted_message=…)).
    interrupted = getattr(args, "interrupted_message", interrupted)
    setup_logging(quiet=args.quiet, verbose=args.verbose)
    try:
        return args.handler(args)
    except PinoloftError as error:
        _say(error)
        return error.exit_code
    except BrokenPipeError:
        # The reader of our stdout went away (`pinoloft identify … | head`): what it wanted it has. Point stdout
        # at /dev/null so the interpreter's final flush cannot fail again, and end without an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as error:
        _say(error)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        code = errors(error) if errors is not None else None
        if code is None:
            raise
        _say(error)
        return code


def _say(error: BaseException) -> None:
    print(f"error: {error}", file=sys.stderr)
