"""The dataset for other trainers and services, written beside the OpenAI chat files from the same rows.

`export_dataset(..., formats=[...])` hands every batch it writes to `train.jsonl` (and its sidecar) to one
writer per asked format too, so each format holds the same examples in the same splits and order: line or
row N of any split file is line N of the OpenAI file and of its `.meta.jsonl` sidecar. Nothing is read twice
and no split is held in memory (Parquet buffers one row group). Each writer's files are staged like the
OpenAI files and renamed into place only when the whole export has succeeded.

Formats, each in its own folder of `data/exports/<dataset>/` (`FORMATS`; `openai` is the files of today,
always written; `all` means every format):

* `hf`: `hf/{train,validation,test}.parquet`: a `messages` column (list of {role, content}) and the
  sidecar's fields as columns (ids, split, line, DBMS, strategy, synthetic flag, provenance, lengths,
  tokens, format errors); `datasets.load_dataset("parquet", data_dir=...)` reads them. An empty split has
  no file (datasets cannot load a Parquet file without rows).
* `llamafactory`: `llamafactory/dataset_info.json` registering `<dataset>_<split>` for each split, in
  LLaMA-Factory's sharegpt formatting with OpenAI role tags (its data/README.md, "OpenAI Format"), and the
  split files `llamafactory/{train,validation,test}.jsonl` (the OpenAI lines).
* `axolotl`: `axolotl/axolotl.yml` (datasets of `type: chat_template`, `roles_to_train: [assistant]`, the
  validation file as `test_datasets`; paths relative to that folder) and `axolotl/{train,validation}.jsonl`.
* `vertex`: `vertex/{train,validation}.jsonl` in Vertex AI's supervised tuning format for Gemini:
  `systemInstruction` + `contents` with roles `user` and `model`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from .errors import UnknownFormatError
from .staging import StagedFile, StagedParquet
from .warehouse import SPLITS

FORMATS = ("hf", "llamafactory", "axolotl", "vertex")
OPENAI = "openai"
ALL = "all"
KNOWN_FORMATS = (OPENAI, *FORMATS, ALL)

# Rows per Parquet row group: a fixed number (not the warehouse batch size), so the bytes do not depend on
# --batch-size, and a bound on what the hf writer holds in memory.
HF_ROW_GROUP_ROWS = 5_000
# Vertex AI's documented dataset limits (gemini-supervised-tuning-prepare): a validation file holds at most
# 256 examples; a training file is at most 1 GB.
VERTEX_MAX_VALIDATION_EXAMPLES = 256
VERTEX_MAX_FILE_BYTES = 1_000_000_000
# LLaMA-Factory's tags for OpenAI-style messages (data/README.md, "OpenAI Format").
LLAMAFACTORY_TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                     "assistant_tag": "assistant", "system_tag": "system"}
AXOLOTL_CONFIG = "axolotl.yml"
AXOLOTL_BASE_MODEL_PLACEHOLDER = "/path/to/local/model"


def parse_formats(values: Iterable[str] | str | None) -> tuple[str, ...]:
    """The extra formats asked for, in the canonical order of FORMATS, without repeats.

    Each value may hold several names separated by commas or spaces (`hf,vertex`, `"hf vertex"`); `all`
    means every format, and `openai` (always written) adds nothing. UnknownFormatError names the known ones."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    asked: set[str] = set()
    for value in values:
        for name in value.replace(",", " ").split():
            name = name.strip().lower()
            if name == ALL:
                asked.update(FORMATS)
            elif name in FORMATS:
                asked.add(name)
            elif name != OPENAI:
                raise UnknownFormatError(name, list(KNOWN_FORMATS))
    return tuple(name for name in FORMATS if name in asked)


# --- one example in each format -------------------------------------------------------------------------

def messages(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The OpenAI chat messages of a mart row (the `messages` of train.jsonl)."""
    return [{"role": "system", "content": row["system_prompt"]},
            {"role": "user", "content": row["user_content"]},
            {"role": "assistant", "content": row["assistant_content"]}]


def hf_record(row: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """One row of the hf Parquet files: the messages, then the sidecar line's fields as columns."""
    return {"messages": messages(row), **meta}


def vertex_example(row: dict[str, Any]) -> dict[str, Any]:
    """One line of the vertex files: the system prompt as `systemInstruction` (Vertex ignores its role),
    the user message and the assistant's answer as `contents` with roles `user` and `model`."""
    return {
        "systemInstruction": {"role": "system", "parts": [{"text": row["system_prompt"]}]},
        "contents": [
            {"role": "user", "parts": [{"text": row["user_content"]}]},
            {"role": "model", "parts": [{"text": row["assistant_content"]}]},
        ],
    }


def vertex_line(row: dict[str, Any]) -> str:
    """`json.dumps(vertex_example(row), ensure_ascii=False)`, built directly when the three contents are
    strings (the same text byte for byte, as exporters.export._line does for the OpenAI line)."""
    system, user, assistant = row["system_prompt"], row["user_content"], row["assistant_content"]
    if type(system) is str and type(user) is str and type(assistant) is str:
        return ('{"systemInstruction": {"role": "system", "parts": [{"text": ' + encode_basestring(system)
                + '}]}, "contents": [{"role": "user", "parts": [{"text": ' + encode_basestring(user)
                + '}]}, {"role": "model", "parts": [{"text": ' + encode_basestring(assistant) + "}]}]}")
    return json.dumps(vertex_example(row), ensure_ascii=False)


def hf_schema() -> Any:
    """The Arrow schema of the hf files: fixed, so that an empty split or an all-NULL column keeps its type.
    Its fields are the sidecar's (exporters.export._meta), in the same order, after `messages`."""
    import pyarrow as pa

    text, number, flag = pa.string(), pa.int64(), pa.bool_()
    return pa.schema([
        ("messages", pa.list_(pa.struct([("role", text), ("content", text)]))),
        ("example_id", text), ("dataset", text), ("split", text), ("line", number), ("position", number),
        ("dbms", text), ("strategy", text), ("is_upper", flag), ("is_synthetic", flag),
        ("validation_status", text), ("content_form", text), ("stability", text), ("occurrences", number),
        ("provenance", pa.struct([
            ("source", text), ("source_root", text), ("run", text), ("task", text), ("bug_id", number),
            ("sql_id", number), ("relative_path", text), ("pair_id", text), ("pair_hash", text),
            ("original_fingerprint", text),
        ])),
        ("lengths", pa.struct([("system", number), ("user", number), ("assistant", number)])),
        ("tokens", pa.struct([("total", number), ("system", number), ("user", number), ("assistant", number)])),
        ("over_token_limit", flag),
        ("format_errors", pa.list_(text)),
    ])


def llamafactory_dataset_name(dataset: str, split: str) -> str:
    return f"{dataset}_{split}"


def llamafactory_dataset_info(dataset: str, splits: Iterable[str] = SPLITS) -> dict[str, Any]:
    """LLaMA-Factory's dataset_info.json: one entry per split file, sharegpt formatting with OpenAI tags
    (the system prompt is the first message, which the system tag takes as the system prompt)."""
    return {
        llamafactory_dataset_name(dataset, split): {
            "file_name": f"{split}.jsonl",
            "formatting": "sharegpt",
            "columns": {"messages": "messages"},
            "tags": dict(LLAMAFACTORY_TAGS),
        }
        for split in splits
    }


def _axolotl_dataset(path: str) -> list[str]:
    return [
        f"  - path: {path}",
        "    ds_type: json",
        "    split: train  # a JSON file loads as one split named train",
        "    type: chat_template",
        "    field_messages: messages",
        "    message_property_mappings:",
        "      role: role",
        "      content: content",
        "    roles_to_train:",
        "      - assistant",
        "    train_on_eos: turn",
    ]


def axolotl_config(dataset: str, *, with_validation: bool = True) -> str:
    """axolotl.yml for the files of the axolotl folder. The data paths are relative: axolotl resolves a
    local `path` from its working directory, so it is run from that folder (which can then be copied to a
    GPU machine as it is). The base model is a placeholder to edit or override (`--base-model DIR`)."""
    lines = [
        f"# axolotl config for the pinoloft dataset {dataset}, written by `pinoloft export --format axolotl`.",
        "# Run it from this folder (the data paths below are relative to it):",
        f"#   axolotl train {AXOLOTL_CONFIG} --base-model {AXOLOTL_BASE_MODEL_PLACEHOLDER}",
        "# Loss on the assistant's answer only (roles_to_train). The hyperparameters below are a LoRA starting",
        "# point: override any of them on the command line (--learning-rate 1e-4) or edit this file.",
        f"base_model: {AXOLOTL_BASE_MODEL_PLACEHOLDER}",
        "# the tokenizer's own chat template; ChatML for a base model that has none",
        "chat_template: tokenizer_default_fallback_chatml",
        "datasets:",
        *_axolotl_dataset("train.jsonl"),
    ]
    if with_validation:
        lines += ["test_datasets:", *_axolotl_dataset("validation.jsonl")]
    else:
        lines += ["# no test_datasets: the dataset's validation split is empty"]
    lines += [
        "dataset_prepared_path: last_run_prepared",
        "output_dir: outputs/lora",
        "adapter: lora",
        "lora_r: 16",
        "lora_alpha: 32",
        "lora_dropout: 0.05",
        "lora_target_linear: true",
        "sequence_len: 2048",
        "micro_batch_size: 2",
        "gradient_accumulation_steps: 4",
        "num_epochs: 3",
        "learning_rate: 0.0002",
        "optimizer: adamw_torch",
        "lr_scheduler: cosine",
        "bf16: auto",
        "gradient_checkpointing: true",
        "logging_steps: 10",
        "saves_per_epoch: 1",
    ]
    if with_validation:
        lines.append("evals_per_epoch: 1")
    return "\n".join(lines) + "\n"


# --- writers --------------------------------------------------------------------------------------------

class FormatWriter:
    """The files of one format, fed batch by batch while the OpenAI files are written.

    `write` gets each batch of a split (the mart rows, their OpenAI lines, their sidecar dicts), `end_split`
    closes a split, `finish` writes what depends on the whole export (a config file). The export then
    commits or discards `staged` with its own files."""

    name = ""
    splits: tuple[str, ...] = SPLITS
    config_files: tuple[str, ...] = ()

    def __init__(self, directory: Path, dataset: str) -> None:
        self.dataset = dataset
        self.folder = directory / self.name
        self._created_folder = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.staged: list[StagedFile | StagedParquet] = []
        self.counts = {split: 0 for split in self.splits}

    @classmethod
    def file_names(cls) -> tuple[str, ...]:
        """Every file this format writes, relative to its folder (the same for every dataset)."""
        return (*(cls.data_file_name(split) for split in cls.splits), *cls.config_files)

    @classmethod
    def data_file_name(cls, split: str) -> str:
        return f"{split}.jsonl"

    def write(self, split: str, rows: list[dict[str, Any]], lines: list[str], metas: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def end_split(self, split: str) -> None:
        """Called once a split has been written whole (nothing to do for line files)."""

    def finish(self, split_counts: dict[str, int]) -> None:
        """Write the files that depend on the whole export, then close every file."""
        for item in self.staged:
            item.close()

    def warnings(self, split_counts: dict[str, int]) -> list[str]:
        return []

    def files(self) -> dict[str, dict[str, Any]]:
        """The report's entry: path relative to the dataset folder -> examples (None for a config file),
        bytes and sha256, in the order written."""
        out = {}
        for item in self.staged:
            examples = item.lines if item.target.name not in self.config_files else None
            out[f"{self.name}/{item.target.name}"] = {"examples": examples, "bytes": item.size,
                                                      "sha256": item.sha256.hexdigest()}
        return out

    def commit(self) -> None:
        for item in self.staged:
            item.commit()

    def discard(self) -> None:
        for item in self.staged:
            item.discard()
        if self._created_folder:
            try:
                self.folder.rmdir()
            except OSError:
                pass


class _LineWriter(FormatWriter):
    """Line files, one per split of `splits`, staged from the start (so an empty split gives an empty file)."""

    def __init__(self, directory: Path, dataset: str) -> None:
        super().__init__(directory, dataset)
        self.data_files: dict[str, StagedFile] = {}
        try:
            for split in self.splits:
                self.data_files[split] = StagedFile(self.folder / self.data_file_name(split))
                self.staged.append(self.data_files[split])
        except BaseException:
            self.discard()
            raise

    def write(self, split: str, rows: list[dict[str, Any]], lines: list[str], metas: list[dict[str, Any]]) -> None:
        target = self.data_files.get(split)
        if target is not None:
            target.write_lines(self.lines(rows, lines))
            self.counts[split] += len(rows)

    def lines(self, rows: list[dict[str, Any]], lines: list[str]) -> list[str]:
        """This format's lines for a batch (default: the OpenAI lines as they are)."""
        return lines

    def _write_config(self, name: str, text: str) -> None:
        config = StagedFile(self.folder / name)
        self.staged.append(config)
        config.write_text(text)


class HFWriter(FormatWriter):
    name = "hf"

    def __init__(self, directory: Path, dataset: str) -> None:
        super().__init__(directory, dataset)
        self.schema = hf_schema()
        self.data_files: dict[str, StagedParquet] = {}
        self.pending: dict[str, list[dict[str, Any]]] = {split: [] for split in self.splits}
        self.skipped: list[str] = []
        try:
            for split in self.splits:
                self.data_files[split] = StagedParquet(self.folder / self.data_file_name(split), self.schema)
                self.staged.append(self.data_files[split])
        except BaseException:
            self.discard()
            raise

    @classmethod
    def data_file_name(cls, split: str) -> str:
        return f"{split}.parquet"

    def write(self, split: str, rows: list[dict[str, Any]], lines: list[str], metas: list[dict[str, Any]]) -> None:
        pending = self.pending[split]
        pending.extend(hf_record(row, meta) for row, meta in zip(rows, metas))
        self.counts[split] += len(rows)
        while len(pending) >= HF_ROW_GROUP_ROWS:
            self.data_files[split].write_rows(pending[:HF_ROW_GROUP_ROWS])
            del pending[:HF_ROW_GROUP_ROWS]

    def end_split(self, split: str) -> None:
        self.data_files[split].write_rows(self.pending[split])
        self.pending[split] = []
        if self.counts[split] == 0:
            # No file for an empty split: `datasets` refuses a Parquet file without rows ("corresponds to no
            # data"), which would break `load_dataset("parquet", data_dir=...)` for the other splits too.
            empty = self.data_files.pop(split)
            empty.discard()
            self.staged.remove(empty)
            self.skipped.append(split)

    def commit(self) -> None:
        super().commit()
        for split in self.skipped:  # an earlier export's file for a split that is empty now
            (self.folder / self.data_file_name(split)).unlink(missing_ok=True)


class LlamaFactoryWriter(_LineWriter):
    name = "llamafactory"
    config_files = ("dataset_info.json",)

    def finish(self, split_counts: dict[str, int]) -> None:
        info = llamafactory_dataset_info(self.dataset, self.splits)
        self._write_config("dataset_info.json", json.dumps(info, indent=2, ensure_ascii=False) + "\n")
        super().finish(split_counts)


class AxolotlWriter(_LineWriter):
    name = "axolotl"
    splits = ("train", "validation")
    config_files = (AXOLOTL_CONFIG,)

    def finish(self, split_counts: dict[str, int]) -> None:
        self._write_config(AXOLOTL_CONFIG, axolotl_config(self.dataset,
                                                          with_validation=split_counts.get("validation", 0) > 0))
        super().finish(split_counts)


class VertexWriter(_LineWriter):
    name = "vertex"
    splits = ("train", "validation")

    def lines(self, rows: list[dict[str, Any]], lines: list[str]) -> list[str]:
        return [vertex_line(row) for row in rows]

    def warnings(self, split_counts: dict[str, int]) -> list[str]:
        out = []
        if split_counts.get("validation", 0) > VERTEX_MAX_VALIDATION_EXAMPLES:
            out.append(f"vertex/validation.jsonl: {split_counts['validation']:,} examples; Vertex AI takes at "
                       f"most {VERTEX_MAX_VALIDATION_EXAMPLES} in a validation file")
        for split, item in self.data_files.items():
            if item.size > VERTEX_MAX_FILE_BYTES:
                out.append(f"vertex/{split}.jsonl: {item.size:,} bytes; Vertex AI takes files up to 1 GB")
        return out


WRITERS: dict[str, type[FormatWriter]] = {
    "hf": HFWriter, "llamafactory": LlamaFactoryWriter, "axolotl": AxolotlWriter, "vertex": VertexWriter,
}


def open_writers(formats: Iterable[str], directory: Path, dataset: str) -> list[FormatWriter]:
    """A writer per format (names as parse_formats gives them), each with its files staged."""
    writers: list[FormatWriter] = []
    try:
        for name in formats:
            writers.append(WRITERS[name](directory, dataset))
    except BaseException:
        for writer in writers:
            writer.discard()
        raise
    return writers


def remove_stale(directory: Path, keep: Iterable[str]) -> list[Path]:
    """Remove the files a format not in `keep` wrote into `directory` at an earlier export (they would no
    longer match the OpenAI files just written), and its folder when that leaves it empty. Files we did not
    write stay. Returns the removed files."""
    kept = set(keep)
    removed = []
    for name, writer in WRITERS.items():
        folder = directory / name
        if name in kept or not folder.is_dir():
            continue
        for file_name in writer.file_names():
            path = folder / file_name
            if path.is_file():
                path.unlink()
                removed.append(path)
        try:
            folder.rmdir()
        except OSError:
            pass  # not empty: something of the user's is in it
    return removed


__all__ = ["ALL", "FORMATS", "KNOWN_FORMATS", "OPENAI", "WRITERS", "FormatWriter", "axolotl_config",
           "hf_record", "hf_schema", "llamafactory_dataset_info", "messages", "open_writers", "parse_formats",
           "remove_stale", "vertex_example", "vertex_line"]
