"""The README and docs/*.md are checked against the code, so the documentation cannot drift from it.

* ```python blocks with `>>>` run as doctests; other ```python blocks must at least compile.
* ```console blocks run: each `$ command` line runs in bash, from a scratch folder that looks like the
  repository's root (its `examples/` linked in), and what it prints (stdout and stderr) must match the lines
  below it (doctest's rules: `...` matches anything, whitespace runs are equal). Shell examples that need a
  warehouse, a server or a network are ```sh blocks and are not run.
* Relative links point to files that exist, and `#anchors` to headings that exist.
* The README's make table names every target `make help` lists, and its exit-code table is the runner's.
* The packages' docstring examples run.
(The README's ```sql queries run on the demo warehouse in tests/pipeline/test_demo.py.)
"""

from __future__ import annotations

import doctest
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pinoloft_base.cli import EXIT_CODES

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _blocks(page: Path, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", page.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE)


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_python_examples_run(page: Path):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    parser = doctest.DocTestParser()
    for number, block in enumerate(_blocks(page, "python")):
        if ">>>" in block:
            runner.run(parser.get_doctest(block, {}, f"{page.name} example {number}", str(page), 0))
        else:
            compile(block, f"{page.name} example {number}", "exec")  # plain snippets must at least be valid Python
    assert runner.failures == 0


def _console_steps(block: str) -> list[tuple[str, str]]:
    """(command, expected output) for each `$ ` line of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"output before any command: {line!r}"
            steps[-1][1].append(line)
    return [(command, "".join(f"{line}\n" for line in output)) for command, output in steps]


CONSOLE_PAGES = [page for page in PAGES if _blocks(page, "console")]


@pytest.mark.parametrize("page", CONSOLE_PAGES, ids=_page_id)
def test_console_examples_print_what_they_show(page: Path, tmp_path: Path):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    bin_dir = str(Path(sys.executable).parent)  # `python` and `pinoloft` are the environment's, as after `make setup`
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    checker = doctest.OutputChecker()
    for block in _blocks(page, "console"):
        for command, expected in _console_steps(block):
            result = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, timeout=120)
            assert result.returncode == 0, f"{command}\n{result.stdout}"
            assert checker.check_output(expected, result.stdout, FLAGS), (
                f"{page.name}: {command}\nexpected:\n{expected}got:\n{result.stdout}")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE)
    return {_anchor(heading) for heading in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}


def _links(page: Path) -> list[str]:
    return [target for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8"))
            if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_relative_links_resolve(page: Path):
    for target in _links(page):
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name} links to {target}, which does not exist"
        if anchor:
            assert anchor in _anchors(linked), f"{page.name} links to {target}: no such heading"


def test_every_docs_page_is_reachable_from_the_readme():
    reached, todo = set(), [README]
    while todo:
        page = todo.pop()
        for target in _links(page):
            path = target.partition("#")[0]
            linked = (page.parent / path).resolve() if path else page
            if linked.suffix == ".md" and linked not in reached:
                reached.add(linked)
                todo.append(linked)
    assert {page.resolve() for page in DOCS} - reached == set()


def _help_targets() -> list[str]:
    """The targets `make help` lists: those whose Makefile line ends in a `## description`."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return re.findall(r"^([a-z][a-z-]*):.*## ", makefile, flags=re.MULTILINE)


def _section(text: str, heading: str) -> str:
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_make_table_names_every_target_of_make_help():
    targets = _help_targets()
    assert "setup" in targets and "demo" in targets
    table = _section(README.read_text(encoding="utf-8"), "make targets")
    named = set(re.findall(r"`make ([a-z][a-z-]*)", table)) | set(re.findall(r"`(bench-[a-z]+)`", table))
    assert set(targets) == named


def test_the_exit_code_tables_are_the_runners():
    for page, heading in ((README, "The `pinoloft` command"), (ROOT / "docs" / "cli.md", "Exit codes")):
        table = _section(page.read_text(encoding="utf-8"), heading)
        codes = [int(code) for code in re.findall(r"^\| (\d+) \|", table, flags=re.MULTILINE)]
        assert codes == list(EXIT_CODES), page.name


@pytest.mark.parametrize("package", ["mutations", "ingest", "exporters"])
def test_package_docstring_examples_run(package: str):
    failures, tried = doctest.testmod(importlib.import_module(package), optionflags=FLAGS)
    assert failures == 0 and tried > 0
