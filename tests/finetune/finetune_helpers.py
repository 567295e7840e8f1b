"""Small real inputs for the fine-tuning tests: an export folder with chat JSONL files."""

from __future__ import annotations

from pathlib import Path

from fake_openai import chat_jsonl


def make_export(root: Path, dataset: str = "ds", train: int = 12, validation: int = 4) -> Path:
    """`root/<dataset>/train.jsonl` and `validation.jsonl` as the exporters write them; returns `root`."""
    folder = root / dataset
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.jsonl").write_bytes(chat_jsonl(train, prefix="train"))
    if validation:
        (folder / "validation.jsonl").write_bytes(chat_jsonl(validation, prefix="valid"))
    return root


def make_test_split(root: Path, dataset: str = "ds", per_strategy: int = 2,
                    strategies: tuple[str, ...] = ("FixMCmpOpU", "FixMWhere1U", "FixMDistinctL")) -> list[dict]:
    """A test split as the exporters write it (`test.jsonl` + `test.meta.jsonl`), made with the engine from
    generated queries: `per_strategy` examples per strategy. Returns the examples (original, expected, …)."""
    import json

    from mutations import apply
    from simulator.querygen import QueryGenerator

    generator = QueryGenerator(7, all_strategies=True)
    examples: list[dict] = []
    counts = dict.fromkeys(strategies, 0)
    while min(counts.values()) < per_strategy:
        original = generator.query()
        for strategy in strategies:
            mutations = apply(original, strategy) if counts[strategy] < per_strategy else []
            if mutations:
                counts[strategy] += 1
                examples.append({"example_id": f"ex{len(examples) + 1:02d}", "strategy": strategy, "dbms": "mysql",
                                 "is_upper": mutations[0].is_upper, "original": original,
                                 "expected": mutations[0].sql})
                break
    folder = root / dataset
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "test.jsonl").open("w") as data, (folder / "test.meta.jsonl").open("w") as meta:
        for example in examples:
            messages = [{"role": "system", "content": f"Mutate with {example['strategy']}."},
                        {"role": "user", "content": example["original"]},
                        {"role": "assistant", "content": example["expected"]}]
            data.write(json.dumps({"messages": messages}) + "\n")
            meta.write(json.dumps({key: example[key] for key in ("example_id", "strategy", "dbms", "is_upper")}) + "\n")
    return examples
