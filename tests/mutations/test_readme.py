"""The README's Python examples are run as doctests, so the documentation cannot drift from the code."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert blocks, "the README shows the library in ```python blocks"
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    doctests = [block for block in blocks if ">>>" in block]
    assert doctests, "the README shows the library as >>> examples"
    for number, block in enumerate(doctests):
        runner.run(parser.get_doctest(block, {}, f"README example {number}", str(README), 0))
    assert runner.failures == 0
    for block in blocks:
        if ">>>" not in block:
            compile(block, str(README), "exec")  # plain snippets must at least be valid Python


def test_package_docstring_examples_run():
    import mutations

    failures, tried = doctest.testmod(mutations, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert (failures, tried > 0) == (0, True)
