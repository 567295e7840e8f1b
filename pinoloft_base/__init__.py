"""The base floor of pinoloft: what every package stands on and nothing of ours sits below.

- `warehouse`: opening the DuckDB warehouse (read-only or for writing), the one write transaction, the default
  path, and `ensure_schema` from the one DDL in `schema` (the Python-owned schemas `raw` and `finetune`);
- `errors`: `PinoloftError`, the base of every error our libraries raise on purpose, with its exit code, and
  `WarehouseError`;
- `console`: the one logging setup and the progress bars that `--quiet` silences;
- `cli`: the global options, the exit-code table and the runner every command line uses.
"""
