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
