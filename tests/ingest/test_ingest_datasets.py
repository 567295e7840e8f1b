"""Dataset configs: the demo loads; every invalid value is a clear error naming the file and the key."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ingest_helpers import rows, scalar

from ingest.datasets import load_datasets, parse_config, read_configs, require_dataset
from ingest.errors import DatasetConfigError, UnknownDatasetError
from mutations.strategies import STRATEGIES

REPO = Path(__file__).resolve().parents[2]
VALID = """
dbms: [mysql, mariadb]
strategies: all
quota: 40
quotas: {FixMOn1U: all}
max_length: 3000
form: sqlsim
splits: {train: 0.8, validation: 0.1, test: 0.1}
seed: 42
top_up: false
require_conforming: true
require_executable: false
target: mariadb
"""


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_the_demo_config_loads(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    assert load_datasets(warehouse, REPO / "datasets") == ["demo"]
    got = rows(warehouse, "SELECT strategy, dbms, quota, max_length, form, train_ratio, validation_ratio, test_ratio, "
                          "seed, top_up, require_conforming, require_executable, target, config_hash "
                          "FROM raw.dataset_configs WHERE dataset_name = 'demo' ORDER BY strategy")
    digest = hashlib.sha256((REPO / "datasets" / "demo.yml").read_bytes()).hexdigest()
    names = ["FixMCmpOpU", "FixMDistinctL", "FixMHaving0L", "FixMHaving1U", "FixMInNullU", "FixMOn0L", "FixMOn1U",
             "FixMWhere0L", "FixMWhere1U"]
    assert got == [(name, ["mysql", "mariadb"], 12, 3000, "sqlsim", 0.8, 0.1, 0.1, 42, True, True, False, "mariadb",
                    digest) for name in names]


def test_all_strategies_quotas_and_defaults(tmp_path):
    folder = tmp_path / "datasets"
    _write(folder, "full.yml", VALID)
    _write(folder, "small.yaml", "name: tiny\ndbms: tidb\nmax_length: 500\n")
    warehouse = tmp_path / "w.duckdb"
    assert load_datasets(warehouse, folder) == ["full", "tiny"]
    assert scalar(warehouse, "SELECT count(*) FROM raw.dataset_configs WHERE dataset_name = 'full'") == 18
    assert rows(warehouse, "SELECT strategy, quota FROM raw.dataset_configs WHERE dataset_name = 'full' AND "
                           "strategy IN ('FixMOn1U', 'FixMOn0L') ORDER BY 1") == [("FixMOn0L", 40), ("FixMOn1U", None)]
    assert rows(warehouse, "SELECT DISTINCT dbms, quota, form, train_ratio, validation_ratio, test_ratio, seed, top_up, "
                           "require_conforming, require_executable, target FROM raw.dataset_configs "
                           "WHERE dataset_name = 'tiny'") == [(["tidb"], None, "sqlsim", 0.8, 0.1, 0.1, 0, False, True,
                                                               False, None)]
    config = parse_config(folder / "full.yml")
    assert config.strategies == STRATEGIES and config.quotas["FixMOn1U"] is None
    # loading again replaces every row
    (folder / "small.yaml").unlink()
    assert load_datasets(warehouse, folder) == ["full"]
    assert rows(warehouse, "SELECT DISTINCT dataset_name FROM raw.dataset_configs") == [("full",)]


@pytest.mark.parametrize("change, key, message", [
    ("colour: red", "colour", ("unknown key; expected some of: name, dbms, strategies, quota, quotas, max_length, "
                               "form, splits, seed, top_up, require_conforming, require_executable, target")),
    ("strategies: [FixMDistinctL, FixMFoo]", "strategies",
     "unknown strategy 'FixMFoo'; expected one of: " + ", ".join(STRATEGIES)),
    ("dbms: [mysql, postgres]", "dbms", "unknown DBMS 'postgres'; expected one of: mysql, mariadb, tidb, oceanbase"),
    ("dbms: [mysql, mysql]", "dbms", "DBMS listed twice: mysql"),
    ("splits: {train: 0.8, validation: 0.1, test: 0.05}", "splits", "ratios must sum to 1, they sum to 0.95"),
    ("splits: {train: 0.8, valid: 0.2}", "splits.valid", "unknown split; expected train, validation, test"),
    ("splits: {train: 1.2, validation: -0.1, test: -0.1}", "splits.train", "must be a ratio between 0 and 1, got 1.2"),
    ("quota: -3", "quota", 'must be an integer >= 0 or "all", got -3'),
    ("quota: 2.5", "quota", 'must be an integer >= 0 or "all", got 2.5'),
    ("quota: some", "quota", "must be an integer >= 0 or \"all\", got 'some'"),
    ("quotas: {FixMNope: 3}", "quotas.FixMNope", "unknown strategy; expected one of: " + ", ".join(STRATEGIES)),
    ("quotas: {FixMOn1U: -1}", "quotas.FixMOn1U", 'must be an integer >= 0 or "all", got -1'),
    ("max_length: 0", "max_length", "must be an integer >= 1, got 0"),
    ("form: html", "form", "must be one of sqlsim, raw, got 'html'"),
    ("seed: abc", "seed", "must be an integer, got 'abc'"),
    ("top_up: maybe", "top_up", "must be true or false, got 'maybe'"),
    ("target: sqlite", "target", "unknown DBMS 'sqlite'; expected one of: mysql, mariadb, tidb, oceanbase"),
    ("name: 'bad name'", "name", "must be letters, digits, '_', '.' or '-', got 'bad name'"),
])
def test_invalid_values_name_the_file_and_the_key(tmp_path, change, key, message):
    key_name = change.split(":")[0]
    text = "\n".join(line for line in VALID.strip().splitlines() if not line.startswith(key_name + ":"))
    path = _write(tmp_path, "bad.yml", text + "\n" + change + "\n")
    with pytest.raises(DatasetConfigError) as error:
        parse_config(path)
    assert str(error.value) == f"{path}: key {key!r}: {message}"
    assert (error.value.path, error.value.key) == (str(path), key)


def test_missing_required_keys_and_bad_yaml(tmp_path):
    path = _write(tmp_path, "a.yml", "max_length: 10\n")
    with pytest.raises(DatasetConfigError, match=r"a\.yml: key 'dbms': is required"):
        parse_config(path)
    path = _write(tmp_path, "b.yml", "dbms: [mysql]\n")
    with pytest.raises(DatasetConfigError, match=r"b\.yml: key 'max_length': is required"):
        parse_config(path)
    path = _write(tmp_path, "c.yml", "dbms: [mysql\n")
    with pytest.raises(DatasetConfigError, match=r"c\.yml: not valid YAML"):
        parse_config(path)
    path = _write(tmp_path, "d.yml", "- just\n- a list\n")
    with pytest.raises(DatasetConfigError, match=r"d\.yml: must be a YAML mapping"):
        parse_config(path)


def test_duplicate_names_and_all_or_nothing(tmp_path):
    folder = tmp_path / "datasets"
    warehouse = tmp_path / "w.duckdb"
    _write(folder, "one.yml", VALID)
    load_datasets(warehouse, folder)
    before = rows(warehouse, "SELECT * FROM raw.dataset_configs ORDER BY 1, 2")
    _write(folder, "two.yml", "name: one\n" + VALID)
    with pytest.raises(DatasetConfigError, match=r"two\.yml: key 'name': dataset 'one' is also defined in .*one\.yml"):
        read_configs(folder)
    (folder / "two.yml").write_text(VALID + "quota: -1\n".replace("quota: -1", "form: xml"))
    with pytest.raises(DatasetConfigError):
        load_datasets(warehouse, folder)
    assert rows(warehouse, "SELECT * FROM raw.dataset_configs ORDER BY 1, 2") == before


def test_cli_reports_config_errors_as_input_errors_exit_2(tmp_path):
    folder = tmp_path / "datasets"
    path = _write(folder, "x.yml", VALID.replace("quota: 40", "quota: lots"))
    result = subprocess.run([sys.executable, "-m", "ingest", "datasets", "--dir", str(folder), "--warehouse",
                             str(tmp_path / "w.duckdb")], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {path}: key 'quota': must be an integer >= 0 or \"all\", got 'lots'"


def test_require_dataset_names_the_unknown_and_the_known_without_a_warehouse(tmp_path):
    folder = tmp_path / "datasets"
    _write(folder, "small.yml", VALID)
    _write(folder, "other.yml", "name: big\n" + VALID)
    assert require_dataset(folder, "big").path == str(folder / "other.yml")
    assert require_dataset(folder, "small").name == "small"
    with pytest.raises(UnknownDatasetError) as unknown:
        require_dataset(folder, "smal")
    assert str(unknown.value) == f"unknown dataset 'smal': the configs in {folder} define big, small"
    cli = subprocess.run([sys.executable, "-m", "ingest", "--quiet", "datasets", "--dir", str(folder), "--require",
                          "smal", "--warehouse", str(tmp_path / "never.duckdb")],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (cli.returncode, cli.stderr) == (2, f"error: unknown dataset 'smal': the configs in {folder} define big, small\n")
    assert not (tmp_path / "never.duckdb").exists()
