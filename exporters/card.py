"""`README.md` of an export: the dataset card, in the Hugging Face dataset-card style.

A YAML header (`license: other`: the license of the SQL in PINOLO's output is the user's to state;
`task_categories`, `tags`, and `configs` whose `data_files` name each non-empty split's OpenAI JSONL file,
so that `load_dataset("<folder>")` finds the splits and never the sidecars), then: where the data came from
(roots, runs and DBMSs of the real examples, the mutation engine's versions), the selection settings
(raw.dataset_configs), counts per split and strategy, real and synthetic, every file with its example
count and sha256 (the OpenAI files, their sidecars, and the files of the other formats), and how to load it.
Like every export file it holds nothing about the run itself: the same warehouse gives the same card.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import yaml

from .selection import Selection
from .warehouse import SPLITS

LOAD_PARQUET = "hf"


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "n>1M"


def _header(report: dict[str, Any], dbmss: list[str], n_examples: int) -> str:
    data_files = [{"split": split, "path": f"{split}.jsonl"} for split in SPLITS
                  if report["files"][f"{split}.jsonl"]["examples"]]
    header = {
        "pretty_name": f"pinoloft {report['dataset']}",
        "license": "other",
        "language": ["en"],
        "task_categories": ["text-generation"],
        "tags": ["sql", "code", "pinolo", "logic-bugs", "query-mutation", *dbmss],
        "size_categories": [_size_category(n_examples)],
        "configs": [{"config_name": "default", "data_files": data_files}],
    }
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n"


def _setting(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_setting(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def dataset_card(report: dict[str, Any], shape: dict[str, Counter], selection: Selection,
                 sources: list[tuple[str, str, str]], external: dict[str, int] | None = None) -> str:
    """The card, from report.json's dict, the export's tally (split -> (strategy, dbms, is_synthetic) ->
    examples), the warehouse's selection figures, the (root, run, DBMS) of the real examples from PINOLO's
    runs and the examples per source name of the pairs from outside PINOLO (`ingest pairs`)."""
    dataset = report["dataset"]
    dbmss = sorted({dbms for per in shape.values() for _, dbms, _ in per})
    strategies = sorted({strategy for per in shape.values() for strategy, _, _ in per})
    n_examples = sum(sum(per.values()) for per in shape.values())
    n_synthetic = sum(n for per in shape.values() for (_, _, synthetic), n in per.items() if synthetic)
    out = [_header(report, dbmss, n_examples), f"# pinoloft dataset `{dataset}`", "",
           ("Pairs of SQL queries for teaching a model the query mutations of PINOLO (a logic-bug fuzzer of "
            "MySQL and MariaDB): each example is a chat whose system message names a mutation strategy, whose "
            "user message is the original query and whose assistant message is the mutated one. Written by "
            "`pinoloft export`; report.md and report.html beside this card hold the data check and the warnings."),
           "", f"{n_examples} examples: {n_examples - n_synthetic} real, {n_synthetic} synthetic (derived by the "
           "mutation engine from real originals, to fill strategies PINOLO's runs did not cover).", ""]
    out += ["## Sources", ""]
    if sources:
        out += ["The real examples come from these PINOLO outputs (root, run, DBMS):", ""]
        out += [f"- {f'`{root}`' if root else '(root not recorded)'} run `{run or '?'}` on {dbms or '?'}"
                for root, run, dbms in sources]
    if external:
        out += [""] if sources else []
        out += ["Pairs from outside PINOLO (loaded with `pinoloft ingest pairs`; the sidecar's "
                "`provenance.source` names each example's source):", ""]
        out += [f"- `{name}`: {count} example{'s' if count != 1 else ''}" for name, count in external.items()]
    if not sources and not external:
        out.append("No real example: every example is synthetic.")
    out += ["", "Mutation engine: " + (", ".join(f"`{version}`" for version in selection.engine_versions)
                                       or "not recorded in the warehouse") + ".", ""]
    out += ["## Selection settings", ""]
    if selection.settings:
        out.append("From the dataset's config (raw.dataset_configs; `datasets/<name>.yml`):")
        out.append("")
        out += [f"- {key}: {_setting(value)}" for key, value in selection.settings.items()]
    else:
        out.append("Not recorded in the warehouse.")
    out += ["", "## Counts", "", "Examples per strategy and split, real + synthetic:", "",
            "| strategy | " + " | ".join(SPLITS) + " | total |", "|---|" + "---:|" * (len(SPLITS) + 1)]
    for strategy in strategies:
        cells = []
        row_real = row_synthetic = 0
        for split in SPLITS:
            real = sum(n for (s, _, synthetic), n in shape[split].items() if s == strategy and not synthetic)
            synthetic = sum(n for (s, _, is_synthetic), n in shape[split].items() if s == strategy and is_synthetic)
            row_real += real
            row_synthetic += synthetic
            cells.append(f"{real} + {synthetic}")
        out.append(f"| {strategy} | " + " | ".join(cells) + f" | {row_real} + {row_synthetic} |")
    split_real = {split: sum(n for (_, _, synthetic), n in shape[split].items() if not synthetic) for split in SPLITS}
    split_all = {split: sum(shape[split].values()) for split in SPLITS}
    out.append("| total | " + " | ".join(f"{split_real[s]} + {split_all[s] - split_real[s]}" for s in SPLITS)
               + f" | {n_examples - n_synthetic} + {n_synthetic} |")
    out += ["", "Examples per DBMS: " + ", ".join(
        f"{dbms} {sum(n for per in shape.values() for (_, d, _), n in per.items() if d == dbms)}" for dbms in dbmss)
        + ".", ""]
    out += ["## Files", "", "| file | examples | sha256 |", "|---|---:|---|"]
    for name, info in report["files"].items():
        out.append(f"| `{name}` | {info['examples']} | `{info['sha256']}` |")
        out.append(f"| `{info['meta']}` | {info['examples']} | `{info['meta_sha256']}` |")
    for entry in report.get("formats", {}).values():
        for path, info in entry["files"].items():
            examples = "-" if info["examples"] is None else info["examples"]
            out.append(f"| `{path}` | {examples} | `{info['sha256']}` |")
    data_files = ", ".join(f"{split!r}: {split + '.jsonl'!r}" for split in SPLITS
                           if report["files"][f"{split}.jsonl"]["examples"])
    out += ["", "Line N of a split's `.meta.jsonl` describes line N of its `.jsonl` file (ids, DBMS, strategy, "
            "provenance, synthetic flag, token counts).", "", "## How to load", "", "```python",
            "from datasets import load_dataset",
            "",
            f'dataset = load_dataset("json", data_files={{{data_files}}})']
    if LOAD_PARQUET in report.get("formats", {}):
        out.append('dataset = load_dataset("parquet", data_dir="hf")  # the hf format: sidecar fields as columns')
    out += ["```", "", "Run it in this folder, or load the folder itself: `load_dataset(\"path/to/this/folder\")` "
            "reads the `configs` of the header above.", ""]
    return "\n".join(out)
