"""The layout holds: packages import only from the floors below them (docs/layout.md owns the table), the
simulator is reached only through the front door's `generate`, and the Python-owned schemas have one DDL."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def floors() -> dict[str, int]:
    """`package -> floor` from the table of docs/layout.md."""
    rows = re.findall(r"^\| (\d) \| `(\w+)/` \|", (ROOT / "docs" / "layout.md").read_text(), re.MULTILINE)
    return {package: int(floor) for floor, package in rows}


def imports(package: str) -> set[tuple[str, str]]:
    """(file, top-level package) for every absolute import in `package`'s modules."""
    found = set()
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found.update((str(path.relative_to(ROOT)), name.split(".")[0]) for name in names)
    return found


def test_the_floor_table_names_every_package():
    assert floors() == {"pinoloft_base": 0, "mutations": 1, "exporters": 1, "ingest": 2, "validation": 2,
                        "simulator": 2, "finetune": 3, "pinoloft": 4}


def test_each_package_imports_only_from_floors_below_it():
    table = floors()
    upward = sorted((path, imported) for package, floor in table.items() for path, imported in imports(package)
                    if imported in table and imported != package and table[imported] >= floor)
    assert upward == []


def test_production_code_never_imports_the_simulator_but_for_the_generate_command():
    users = sorted(path for package in floors() if package != "simulator"
                   for path, imported in imports(package) if imported == "simulator")
    assert users == ["pinoloft/cli.py"]


def test_the_python_owned_schemas_are_created_in_one_place():
    creating = sorted(str(path.relative_to(ROOT)) for package in floors() for path in (ROOT / package).rglob("*.py")
                      if re.search(r"CREATE (OR REPLACE )?TABLE (IF NOT EXISTS )?(raw\.|finetune\.|\{schema\}\.)",
                                   path.read_text(), re.IGNORECASE))
    assert creating == ["pinoloft_base/warehouse.py"]
