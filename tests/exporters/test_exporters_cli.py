"""`python -m exporters`: the --json object, exit codes, the human report, errors without tracebacks."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

from exporters.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exporters_fixtures import build_warehouse

REPO = Path(__file__).resolve().parents[2]
REQUIRED_KEYS = ["n_examples", "format_errors", "n_missing_system", "n_missing_user", "distributions",
                 "n_over_limit", "token_limit", "n_epochs", "billing_tokens", "estimated_cost_usd"]
GOOD = json.dumps({"messages": [{"role": "system", "content": "You are x."},
                                {"role": "user", "content": "hello world"},
                                {"role": "assistant", "content": "hi"}]})


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exporters", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)


def test_json_has_exactly_the_documented_keys(tmp_path, capsys):
    path = tmp_path / "ok.jsonl"
    path.write_text("\n".join(GOOD.replace("hello", f"hello {i}") for i in range(10)) + "\n")
    assert main(["-q", "check", str(path), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert list(payload) == [*REQUIRED_KEYS, "extra"]
    assert list(payload["distributions"]) == ["messages", "total_tokens", "assistant_tokens"]
    for stats in payload["distributions"].values():
        assert list(stats) == ["min", "max", "mean", "median", "p5", "p95"]
    assert payload["n_examples"] == 10
    assert payload["format_errors"] == {"data_type": 0, "missing_messages_list": 0, "message_missing_key": 0,
                                        "message_unrecognized_key": 0, "unrecognized_role": 0, "missing_content": 0,
                                        "example_missing_assistant_message": 0}
    # "hello world" 2 tokens, "hello 0 world" ... 4 tokens: 22 + 2 for each
    assert payload["distributions"]["total_tokens"] == {"min": 24, "max": 24, "mean": 24.0, "median": 24.0,
                                                        "p5": 24, "p95": 24}
    assert (payload["token_limit"], payload["n_epochs"], payload["billing_tokens"]) == (65536, 10, 2400)
    assert payload["estimated_cost_usd"] == 0.0072
    assert payload["extra"]["model"] == "gpt-4o-mini-2024-07-18"
    assert payload["extra"]["warnings"] == []


def test_exit_code_and_line_numbers_on_format_errors(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(GOOD.encode() + b"\n{oops\n" + b"\xff\n")
    done = run("-q", "check", str(path))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"{path}:2: data_type: invalid JSON: Expecting property name enclosed in double quotes (column 2)" \
        in done.stdout
    assert f"{path}:3: data_type: invalid UTF-8 at byte 1 of the line" in done.stdout
    as_json = run("check", str(path), "--json", "--quiet")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["format_errors"]["data_type"] == 2


def test_missing_file_is_a_format_error_not_a_traceback(tmp_path):
    done = run("check", str(tmp_path / "absent.jsonl"), "--quiet")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"{tmp_path / 'absent.jsonl'}:0: data_type: cannot read file: No such file or directory" in done.stdout


def test_warnings_do_not_fail_unless_strict(tmp_path, capsys):
    path = tmp_path / "few.jsonl"
    path.write_text(GOOD + "\n")
    assert main(["-q", "check", str(path)]) == 0
    text = capsys.readouterr().out
    assert "format errors: none" in text
    assert "  - only 1 valid example(s): fine-tuning needs at least 10" in text
    assert "  total tokens per example       22   22    22      22  22   22" in text
    assert "estimated training cost: $0.001650" in text
    assert main(["-q", "check", str(path), "--strict"]) == 1


def test_unknown_model_exits_2(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(GOOD + "\n")
    done = run("check", str(path), "--model", "gpt-9")
    assert done.returncode == 2
    assert done.stderr.startswith("error: unknown model 'gpt-9': expected one of ")


def test_other_model_changes_limit_and_price(tmp_path, capsys):
    path = tmp_path / "x.jsonl"
    path.write_text(GOOD + "\n")
    assert main(["-q", "check", str(path), "--json", "--model", "gpt-3.5-turbo"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["token_limit"] == 16385
    assert payload["extra"]["encoding"] == "cl100k_base"
    assert payload["billing_tokens"] == 25 * payload["distributions"]["total_tokens"]["max"]
    assert payload["estimated_cost_usd"] == round(payload["billing_tokens"] * 8 / 1e6, 6)


def test_export_command(tmp_path):
    warehouse = build_warehouse(tmp_path / "w.duckdb")
    done = run("--quiet", "export", "--dataset", "demo", "--warehouse", str(warehouse), "--out", str(tmp_path / "x"))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    first = done.stdout.splitlines()[0]
    assert first == f"demo: 5 examples (train 3, validation 1, test 1) in {tmp_path / 'x' / 'demo'}/"
    check = run("-q", "check", str(tmp_path / "x" / "demo" / "train.jsonl"))
    assert check.returncode == 0
    assert "examples per strategy and DBMS (from the .meta.jsonl sidecar):" in check.stdout
    strict = run("-q", "export", "-d", "demo", "-w", str(warehouse), "-o", str(tmp_path / "x"), "--strict")
    assert strict.returncode == 1  # the train split has fewer than 10 examples


def _stderr_on_a_terminal(*args: str) -> tuple[int, str, str]:
    """Run `python -m exporters ARGS` with stderr on a pseudo-terminal (bars are drawn only on a terminal):
    (exit code, stdout, what reached the terminal)."""
    main_end, child_end = pty.openpty()
    # a terminal of 24 x 120 characters, as a real one has (a pty starts at 0 x 0, where a bar has no room)
    fcntl.ioctl(child_end, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "exporters", *args], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=child_end, text=True)
    os.close(child_end)
    seen = b""
    while True:
        try:
            chunk = os.read(main_end, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    os.close(main_end)
    stdout = process.stdout.read()
    process.stdout.close()
    return process.wait(timeout=120), stdout, seen.decode(errors="replace")


def test_progress_goes_to_a_terminal_stderr_and_quiet_silences_it(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(GOOD + "\n")
    code, stdout, terminal = _stderr_on_a_terminal("check", str(path), "--json")
    assert code == 0
    assert "1/1" in terminal and "ex" in terminal
    assert json.loads(stdout)["n_examples"] == 1
    code, stdout, terminal = _stderr_on_a_terminal("check", str(path), "--json", "-q")
    assert (code, terminal) == (0, "")
    assert json.loads(stdout)["n_examples"] == 1
    # stderr not a terminal (a log file, CI): no bar, stdout unchanged
    piped = run("check", str(path), "--json")
    assert (piped.returncode, piped.stderr) == (0, "")
    assert json.loads(piped.stdout) == json.loads(stdout)


def test_jobs_is_the_parallelism_option_and_threads_is_gone(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join(GOOD.replace("hello", f"hello {i}") for i in range(10)) + "\n")
    one = run("-q", "check", str(path), "--json", "--jobs", "1")
    four = run("-q", "check", str(path), "--json", "-j", "4")
    assert (one.returncode, four.returncode) == (0, 0)
    assert json.loads(one.stdout) == json.loads(four.stdout)
    assert json.loads(one.stdout)["n_examples"] == 10
    for command in (["check", str(path)], ["export", "--dataset", "demo"]):
        gone = run("-q", *command, "--threads", "2")
        assert gone.returncode == 2 and gone.stdout == ""
        assert gone.stderr.splitlines()[-1] == "python -m exporters: error: unrecognized arguments: --threads 2"
    zero = run("-q", "check", str(path), "--jobs", "0")
    assert zero.returncode == 2
    assert zero.stderr.splitlines()[-1] == ("python -m exporters check: error: argument --jobs/-j: must be at "
                                            "least 1, not 0")


def test_warehouse_is_a_global_option_before_or_after_the_subcommand(tmp_path):
    warehouse = build_warehouse(tmp_path / "w.duckdb")
    before = run("-q", "--warehouse", str(warehouse), "export", "-d", "demo", "-o", str(tmp_path / "before"), "-j", "2")
    after = run("-q", "export", "-d", "demo", "-o", str(tmp_path / "after"), "--warehouse", str(warehouse))
    short = run("-w", str(warehouse), "export", "-d", "demo", "-o", str(tmp_path / "short"), "-q")
    for done in (before, after, short):
        assert (done.returncode, done.stderr) == (0, "")
    for folder in ("after", "short"):
        assert (tmp_path / folder / "demo" / "train.jsonl").read_bytes() == \
            (tmp_path / "before" / "demo" / "train.jsonl").read_bytes()
    # the option after the subcommand wins over the one before it
    missing = tmp_path / "absent.duckdb"
    overridden = run("-q", "-w", str(warehouse), "export", "-d", "demo", "-o", str(tmp_path / "x"), "-w", str(missing))
    assert (overridden.returncode, overridden.stderr) == (
        2, f"error: no warehouse at {missing}: build it with `make demo` or `make ingest transform` "
        "(or give --warehouse)\n")
    assert not missing.exists()


def test_version_and_exit_code_table_in_help():
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("pinoloft ")
    assert "exit codes:" in run("--help").stdout
    assert "  3    the warehouse is in use by another process" in run("--help").stdout


def test_help_lists_the_commands():
    done = run("--help")
    assert done.returncode == 0
    for command in ("export", "check", "models"):
        assert command in done.stdout
