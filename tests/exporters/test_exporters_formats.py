"""`export --format`: the same examples for other trainers and services, read back by what consumes them.

hf Parquet is read with `datasets` (installed); LLaMA-Factory's, axolotl's and Vertex AI's files are parsed and
checked against their documented schemas (LLaMA-Factory data/README.md "OpenAI Format"; axolotl
docs/dataset-formats/conversation.qmd, docs/config.qmd and src/axolotl/utils/schemas/datasets.py; Vertex AI
"Prepare supervised fine-tuning data for Gemini models"), none of which installs here.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Literal

import datasets
import jsonschema
import pyarrow.parquet as pq
import pytest
import yaml
from pydantic import BaseModel, ConfigDict

from exporters import export as export_module
from exporters.cli import main
from exporters.errors import UnknownFormatError
from exporters.export import export_dataset
from exporters.formats import FORMATS, KNOWN_FORMATS, parse_formats, vertex_example, vertex_line

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exporters_fixtures import ROWS, SYSTEM_MYSQL, build_warehouse, read_jsonl

BASE_FILES = ["README.md", "report.html", "report.json", "report.md", "test.jsonl", "test.meta.jsonl",
              "train.jsonl", "train.meta.jsonl",
              "validation.jsonl", "validation.meta.jsonl"]
FORMAT_FILES = {
    "hf": ["test.parquet", "train.parquet", "validation.parquet"],
    "llamafactory": ["dataset_info.json", "test.jsonl", "train.jsonl", "validation.jsonl"],
    "axolotl": ["axolotl.yml", "train.jsonl", "validation.jsonl"],
    "vertex": ["train.jsonl", "validation.jsonl"],
}
IDS = {"train": ["ex-1", "ex-2", "ex-3"], "validation": ["ex-4"], "test": ["ex-5"]}
DEMO = {row[1]: row for row in ROWS if row[0] == "demo"}  # example_id -> fixture row


@pytest.fixture()
def warehouse(tmp_path):
    return build_warehouse(tmp_path / "warehouse.duckdb")


def tree(directory: Path) -> dict[str, bytes]:
    """Every file under `directory`, by relative path."""
    return {str(path.relative_to(directory)): path.read_bytes() for path in sorted(directory.rglob("*"))
            if path.is_file()}


def expected_messages(example_id: str) -> list[dict[str, str]]:
    row = DEMO[example_id]
    return [{"role": "system", "content": row[7]}, {"role": "user", "content": row[8]},
            {"role": "assistant", "content": row[9]}]


# --- choosing formats -----------------------------------------------------------------------------------

def test_parse_formats():
    assert parse_formats(None) == ()
    assert parse_formats([]) == ()
    assert parse_formats(["openai"]) == ()
    assert parse_formats(["vertex", "hf"]) == ("hf", "vertex")  # canonical order
    assert parse_formats(["vertex,HF", "hf"]) == ("hf", "vertex")
    assert parse_formats("llamafactory axolotl") == ("llamafactory", "axolotl")
    assert parse_formats(["all"]) == FORMATS == ("hf", "llamafactory", "axolotl", "vertex")
    with pytest.raises(UnknownFormatError) as caught:
        parse_formats(["hf,xml"])
    assert caught.value.exit_code == 2
    assert caught.value.known == list(KNOWN_FORMATS)
    assert str(caught.value) == ("unknown export format 'xml': expected one of openai, hf, llamafactory, axolotl, "
                                 "vertex, all (repeat --format or separate names with commas)")


# --- without --format: today's files, byte for byte ----------------------------------------------------

def test_without_formats_the_export_is_unchanged(warehouse, tmp_path):
    export_dataset(warehouse, "demo", tmp_path / "plain", quiet=True)
    plain = tree(tmp_path / "plain" / "demo")
    assert sorted(plain) == BASE_FILES
    report = json.loads(plain["report.json"])
    assert "formats" not in report
    assert b"## Other formats" not in plain["report.md"]

    export_dataset(warehouse, "demo", tmp_path / "all", quiet=True, formats=["all"])
    full = tree(tmp_path / "all" / "demo")
    assert sorted(full) == sorted([*BASE_FILES, *(f"{name}/{file}" for name, files in FORMAT_FILES.items()
                                                  for file in files)])
    # the OpenAI files and sidecars are the same bytes; the report only gains its "formats" entry and section
    for name in [name for name in BASE_FILES if name.endswith(".jsonl")]:
        assert full[name] == plain[name], name
    with_formats = json.loads(full["report.json"])
    assert list(with_formats)[:7] == ["dataset", "model", "encoding", "token_limit", "usd_per_1m_training_tokens",
                                      "files", "formats"]
    assert {key: value for key, value in with_formats.items() if key != "formats"} == report
    markdown = full["report.md"].decode()
    section = markdown[markdown.index("\n## Other formats"):markdown.index("\n## Verdict")]
    assert markdown.replace(section, "") == plain["report.md"].decode()


# --- hf: Parquet read back with datasets ---------------------------------------------------------------

def test_hf_parquet_loads_with_datasets(warehouse, tmp_path):
    export_dataset(warehouse, "demo", tmp_path, quiet=True, formats="hf")
    directory = tmp_path / "demo"
    assert sorted(p.name for p in (directory / "hf").iterdir()) == FORMAT_FILES["hf"]
    loaded = datasets.load_dataset("parquet", data_files={split: str(directory / "hf" / f"{split}.parquet")
                                                          for split in IDS},
                                   cache_dir=str(tmp_path / "hf-cache"))
    assert list(loaded) == ["train", "validation", "test"]
    assert {split: loaded[split].num_rows for split in IDS} == {"train": 3, "validation": 1, "test": 1}
    features = loaded["train"].features
    assert features["messages"] == datasets.List({"role": datasets.Value("string"),
                                                  "content": datasets.Value("string")})
    assert (features["is_synthetic"], features["line"]) == (datasets.Value("bool"), datasets.Value("int64"))
    for split, ids in IDS.items():
        rows = loaded[split].to_list()
        metas = read_jsonl(directory / f"{split}.meta.jsonl")
        chats = read_jsonl(directory / f"{split}.jsonl")
        # row N = line N of the OpenAI file + line N of its sidecar, field for field
        assert rows == [{"messages": chat["messages"], **meta} for chat, meta in zip(chats, metas)]
        assert [row["example_id"] for row in rows] == ids
        assert [row["messages"] for row in rows] == [expected_messages(i) for i in ids]
        assert {row["split"] for row in rows} == {split}
    second = loaded["train"][1]
    assert (second["strategy"], second["dbms"], second["is_synthetic"], second["line"]) == \
        ("FixMWhere1U", "mysql", True, 2)
    assert second["provenance"]["original_fingerprint"] == "fp-3"
    assert second["tokens"] == {"total": 46, "system": 12, "user": 8, "assistant": 11}


def test_hf_empty_split_has_no_file(warehouse, tmp_path):
    """datasets cannot load a Parquet file without rows, and one such file in data_dir breaks the whole load;
    so an empty split has no file (and the file of an earlier export goes)."""
    export_dataset(warehouse, "demo", tmp_path / "out", quiet=True, formats=["hf"])
    folder = tmp_path / "out" / "demo" / "hf"
    assert (folder / "test.parquet").exists()
    without_test = build_warehouse(tmp_path / "w.duckdb",
                                   [row for row in ROWS if row[0] == "demo" and row[2] != "test"])
    result = export_dataset(without_test, "demo", tmp_path / "out", quiet=True, formats=["hf"])
    assert sorted(p.name for p in folder.iterdir()) == ["train.parquet", "validation.parquet"]
    assert list(result.report["formats"]["hf"]["files"]) == ["hf/train.parquet", "hf/validation.parquet"]
    loaded = datasets.load_dataset("parquet", data_dir=str(folder), cache_dir=str(tmp_path / "hf-cache"))
    assert {split: loaded[split].num_rows for split in loaded} == {"train": 3, "validation": 1}
    assert [row["example_id"] for row in loaded["train"]] == IDS["train"]


# --- llamafactory: dataset_info.json against its data/README.md ----------------------------------------

# data/README.md: the keys of a dataset description, of its "columns" and of its "tags"
LLAMAFACTORY_KEYS = {"hf_hub_url", "ms_hub_url", "script_url", "file_name", "formatting", "ranking", "subset",
                     "split", "folder", "num_samples", "columns", "tags"}
LLAMAFACTORY_COLUMNS = {"prompt", "query", "response", "history", "messages", "system", "tools", "images",
                        "chosen", "rejected", "kto_tag"}
LLAMAFACTORY_TAGS = {"role_tag", "content_tag", "user_tag", "assistant_tag", "observation_tag", "function_tag",
                     "system_tag"}
LLAMAFACTORY_TAG_DEFAULTS = {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                             "assistant_tag": "gpt", "observation_tag": "observation",
                             "function_tag": "function_call", "system_tag": "system"}


def llamafactory_sharegpt(example: dict, description: dict) -> dict:
    """The sharegpt reading data/README.md documents: the messages column (default `conversations`); a first
    message with the system tag is the system prompt; then user (or observation) at odd positions and
    assistant (or function) at even ones, an even count; the last message is the response."""
    tags = {**LLAMAFACTORY_TAG_DEFAULTS, **description.get("tags", {})}
    messages = example[description.get("columns", {}).get("messages", "conversations")]
    system = ""
    if messages and messages[0][tags["role_tag"]] == tags["system_tag"]:
        system = messages[0][tags["content_tag"]]
        messages = messages[1:]
    accepted = ((tags["user_tag"], tags["observation_tag"]), (tags["assistant_tag"], tags["function_tag"]))
    for turn, message in enumerate(messages):
        assert message[tags["role_tag"]] in accepted[turn % 2], f"role {message} at turn {turn + 1}"
    assert len(messages) % 2 == 0, "an odd number of messages"
    roles = {tags["user_tag"]: "user", tags["assistant_tag"]: "assistant"}
    aligned = [{"role": roles[m[tags["role_tag"]]], "content": m[tags["content_tag"]]} for m in messages]
    return {"system": system, "prompt": aligned[:-1], "response": aligned[-1:]}


def test_llamafactory_against_its_documented_schema(warehouse, tmp_path):
    export_dataset(warehouse, "demo", tmp_path, quiet=True, formats=["llamafactory"])
    directory = tmp_path / "demo" / "llamafactory"
    assert sorted(p.name for p in directory.iterdir()) == FORMAT_FILES["llamafactory"]
    info = json.loads((directory / "dataset_info.json").read_text(encoding="utf-8"))
    assert list(info) == ["demo_train", "demo_validation", "demo_test"]
    for split, ids in IDS.items():
        description = info[f"demo_{split}"]
        assert set(description) <= LLAMAFACTORY_KEYS
        assert set(description["columns"]) <= LLAMAFACTORY_COLUMNS
        assert set(description["tags"]) <= LLAMAFACTORY_TAGS
        # exactly the README's description of the OpenAI format
        assert description == {"file_name": f"{split}.jsonl", "formatting": "sharegpt",
                               "columns": {"messages": "messages"},
                               "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                                        "assistant_tag": "assistant", "system_tag": "system"}}
        data_file = directory / description["file_name"]  # LLaMA-Factory joins dataset_dir and file_name
        assert data_file.read_bytes() == (tmp_path / "demo" / f"{split}.jsonl").read_bytes()
        # it loads a .jsonl file with the datasets "json" builder
        loaded = datasets.load_dataset("json", data_files=str(data_file), split="train",
                                       cache_dir=str(tmp_path / "hf-cache"))
        converted = [llamafactory_sharegpt(example, description) for example in loaded]
        assert converted == [{"system": DEMO[i][7], "prompt": [{"role": "user", "content": DEMO[i][8]}],
                              "response": [{"role": "assistant", "content": DEMO[i][9]}]} for i in ids]


# --- axolotl: axolotl.yml against its config reference ------------------------------------------------

class AxolotlChatTemplateDataset(BaseModel):
    """The fields of axolotl's SFTDataset (src/axolotl/utils/schemas/datasets.py) that the export sets, with
    the values docs/config.qmd allows; any other key is an error here."""

    model_config = ConfigDict(extra="forbid")
    path: str
    ds_type: Literal["json", "arrow", "parquet", "text", "csv"]
    split: str
    type: Literal["chat_template"]
    field_messages: str
    message_property_mappings: dict[str, str]
    roles_to_train: list[str]
    train_on_eos: Literal["all", "turn", "last"]


class AxolotlConfig(BaseModel):
    """The top-level keys the export sets (docs/config.qmd; base_model and learning_rate are required)."""

    model_config = ConfigDict(extra="forbid")
    base_model: str
    chat_template: str
    datasets: list[AxolotlChatTemplateDataset]
    test_datasets: list[AxolotlChatTemplateDataset] | None = None
    dataset_prepared_path: str
    output_dir: str
    adapter: Literal["lora", "qlora"]
    lora_r: int
    lora_alpha: int
    lora_dropout: float
    lora_target_linear: bool
    sequence_len: int
    micro_batch_size: int
    gradient_accumulation_steps: int
    num_epochs: float
    learning_rate: float
    optimizer: str
    lr_scheduler: Literal["linear", "cosine", "constant", "one_cycle", "rex"]
    bf16: bool | Literal["auto", "full"]
    gradient_checkpointing: bool
    logging_steps: int
    saves_per_epoch: int
    evals_per_epoch: int | None = None


AXOLOTL_ROLES = {"user": ["human", "user"], "assistant": ["gpt", "assistant"], "system": ["system"],
                 "tool": ["tool"]}  # the default `roles` of docs/config.qmd


def axolotl_trained_contents(example: dict, dataset: AxolotlChatTemplateDataset) -> list[str]:
    """What type chat_template trains on (docs/config.qmd): the messages of `field_messages`, their role and
    content through `message_property_mappings` and the default `roles`, kept when in `roles_to_train`."""
    mapping = dataset.message_property_mappings
    source_to_role = {source: role for role, sources in AXOLOTL_ROLES.items() for source in sources}
    trained = []
    for message in example[dataset.field_messages]:
        role = source_to_role[message[mapping["role"]]]
        if role in dataset.roles_to_train:
            trained.append(message[mapping["content"]])
    return trained


def test_axolotl_against_its_documented_schema(warehouse, tmp_path):
    export_dataset(warehouse, "demo", tmp_path, quiet=True, formats=["axolotl"])
    directory = tmp_path / "demo" / "axolotl"
    assert sorted(p.name for p in directory.iterdir()) == FORMAT_FILES["axolotl"]
    config = AxolotlConfig.model_validate(yaml.safe_load((directory / "axolotl.yml").read_text(encoding="utf-8")))
    assert config.chat_template.startswith("tokenizer_default")
    assert config.base_model == "/path/to/local/model"
    assert len(config.datasets) == 1 and config.test_datasets is not None and len(config.test_datasets) == 1
    for split, dataset in (("train", config.datasets[0]), ("validation", config.test_datasets[0])):
        assert (dataset.path, dataset.ds_type, dataset.split) == (f"{split}.jsonl", "json", "train")
        assert (dataset.field_messages, dataset.roles_to_train) == ("messages", ["assistant"])
        assert dataset.message_property_mappings == {"role": "role", "content": "content"}
        # relative to the folder axolotl is run from: the axolotl folder itself
        data_file = directory / dataset.path
        assert data_file.read_bytes() == (tmp_path / "demo" / f"{split}.jsonl").read_bytes()
        loaded = datasets.load_dataset(dataset.ds_type, data_files=str(data_file), split=dataset.split,
                                       cache_dir=str(tmp_path / "hf-cache"))
        assert [axolotl_trained_contents(example, dataset) for example in loaded] == \
            [[DEMO[i][9]] for i in IDS[split]]


def test_axolotl_without_validation_examples_has_no_test_datasets(tmp_path):
    warehouse = build_warehouse(tmp_path / "w.duckdb",
                                [row for row in ROWS if row[0] == "demo" and row[2] != "validation"])
    export_dataset(warehouse, "demo", tmp_path / "out", quiet=True, formats=["axolotl"])
    directory = tmp_path / "out" / "demo" / "axolotl"
    config = AxolotlConfig.model_validate(yaml.safe_load((directory / "axolotl.yml").read_text(encoding="utf-8")))
    assert (config.test_datasets, config.evals_per_epoch) == (None, None)
    assert (directory / "validation.jsonl").read_bytes() == b""


# --- vertex: systemInstruction + contents -------------------------------------------------------------

_PART = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"],
         "additionalProperties": False}
# "Prepare supervised fine-tuning data for Gemini models": contents required (roles user and model),
# systemInstruction optional (its role is ignored); text parts only here.
VERTEX_SCHEMA = {
    "type": "object",
    "properties": {
        "systemInstruction": {"type": "object",
                              "properties": {"role": {"type": "string"},
                                             "parts": {"type": "array", "items": _PART, "minItems": 1}},
                              "required": ["parts"], "additionalProperties": False},
        "contents": {"type": "array", "minItems": 1,
                     "items": {"type": "object",
                               "properties": {"role": {"enum": ["user", "model"]},
                                              "parts": {"type": "array", "items": _PART, "minItems": 1}},
                               "required": ["role", "parts"], "additionalProperties": False}},
    },
    "required": ["contents"],
    "additionalProperties": False,
}


def test_vertex_against_its_documented_schema(warehouse, tmp_path):
    export_dataset(warehouse, "demo", tmp_path, quiet=True, formats=["vertex"])
    directory = tmp_path / "demo" / "vertex"
    assert sorted(p.name for p in directory.iterdir()) == FORMAT_FILES["vertex"]
    for split in ("train", "validation"):
        lines = read_jsonl(directory / f"{split}.jsonl")
        for example in lines:
            jsonschema.validate(example, VERTEX_SCHEMA)
            assert [turn["role"] for turn in example["contents"]] == ["user", "model"]
        assert lines == [{"systemInstruction": {"role": "system", "parts": [{"text": DEMO[i][7]}]},
                          "contents": [{"role": "user", "parts": [{"text": DEMO[i][8]}]},
                                       {"role": "model", "parts": [{"text": DEMO[i][9]}]}]}
                         for i in IDS[split]]


def test_vertex_fast_line_equals_json_dumps():
    texts = ["SELECT 1", "", "a\"b\\c", "tab\tnew\nline\r", "\x00\x1f\x7f", "é中文😀", "\u2028\u2029", "\ud800 lone"]
    for system in texts[:3]:
        for user in texts:
            for assistant in texts:
                row = {"system_prompt": system, "user_content": user, "assistant_content": assistant}
                assert vertex_line(row) == json.dumps(vertex_example(row), ensure_ascii=False)
    row = {"system_prompt": "s", "user_content": None, "assistant_content": 3}
    assert vertex_line(row) == json.dumps(vertex_example(row), ensure_ascii=False)


def test_vertex_validation_limit_is_a_warning(tmp_path):
    rows = [("big", f"v-{n:03d}", "validation", n, "mysql", "FixMDistinctL", False, SYSTEM_MYSQL, f"SELECT {n}",
             f"SELECT DISTINCT {n}", f"fp-{n}", False) for n in range(257)]
    rows.append(("big", "t-1", "train", 0, "mysql", "FixMDistinctL", False, SYSTEM_MYSQL, "SELECT 1000",
                 "SELECT DISTINCT 1000", "fp-1000", False))
    warehouse = build_warehouse(tmp_path / "w.duckdb", rows)
    plain = export_dataset(warehouse, "big", tmp_path / "plain", quiet=True, formats=["hf"])
    assert not any("Vertex" in warning for warning in plain.warnings)
    result = export_dataset(warehouse, "big", tmp_path / "out", quiet=True, formats=["vertex"])
    assert "vertex/validation.jsonl: 257 examples; Vertex AI takes at most 256 in a validation file" \
        in result.warnings
    assert len(read_jsonl(tmp_path / "out" / "big" / "vertex" / "validation.jsonl")) == 257


# --- the report, reruns, failures ----------------------------------------------------------------------

def test_report_lists_every_file_with_a_matching_sha256(warehouse, tmp_path):
    result = export_dataset(warehouse, "demo", tmp_path, quiet=True, formats=["all"])
    directory = tmp_path / "demo"
    report = json.loads((directory / "report.json").read_text(encoding="utf-8"))
    assert report == result.report
    assert list(report["formats"]) == list(FORMATS)
    markdown = (directory / "report.md").read_text(encoding="utf-8")
    listed = []
    for name, entry in report["formats"].items():
        assert entry["folder"] == f"{name}/"
        for path, info in entry["files"].items():
            data = (directory / path).read_bytes()
            assert info["sha256"] == hashlib.sha256(data).hexdigest(), path
            assert info["bytes"] == len(data)
            split = Path(path).stem
            if path.endswith(".parquet"):
                assert info["examples"] == pq.read_metadata(directory / path).num_rows == len(IDS[split])
            elif split in IDS:
                assert info["examples"] == len(data.splitlines()) == len(IDS[split])
            else:
                assert info["examples"] is None  # dataset_info.json, axolotl.yml
            assert f"| {name} | `{path}` |" in markdown and f"`{info['sha256']}`" in markdown
            listed.append(path)
    assert sorted(listed) == sorted(f"{name}/{file}" for name, files in FORMAT_FILES.items() for file in files)
    assert sorted(str(path.relative_to(directory)) for path in result.files) == \
        sorted([*BASE_FILES, *listed])
    assert result.formats == FORMATS


def test_rerun_is_byte_identical_and_stale_formats_go(warehouse, tmp_path):
    export_dataset(warehouse, "demo", tmp_path, quiet=True, formats=["all"])
    first = tree(tmp_path / "demo")
    # another batch size and thread count: the same bytes (Parquet row groups do not follow the batches)
    export_dataset(warehouse, "demo", tmp_path, threads=1, batch_size=1, quiet=True, formats=["all"])
    assert tree(tmp_path / "demo") == first  # and no temporary files left behind
    (tmp_path / "demo" / "vertex" / "notes.txt").write_text("mine")
    # an export without vertex and axolotl removes their files (they would no longer match), not the user's
    export_dataset(warehouse, "demo", tmp_path, quiet=True, formats=["hf", "llamafactory"])
    now = tree(tmp_path / "demo")
    assert sorted(now) == sorted([*BASE_FILES, "vertex/notes.txt",
                                  *(f"{name}/{file}" for name in ("hf", "llamafactory")
                                    for file in FORMAT_FILES[name])])
    assert not (tmp_path / "demo" / "axolotl").exists()
    assert all(now[name] == first[name] for name in now if not name.startswith(("vertex/", "report.", "README.")))  # the card lists the formats


def test_failed_export_leaves_previous_files(warehouse, tmp_path, monkeypatch):
    export_dataset(warehouse, "demo", tmp_path, quiet=True, formats=["hf", "vertex"])
    before = tree(tmp_path / "demo")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_module, "export_markdown", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        export_dataset(warehouse, "demo", tmp_path, quiet=True, formats=["all"])
    assert tree(tmp_path / "demo") == before
    # no folder of a format that was not there before (axolotl, llamafactory) is left behind
    assert sorted(p.name for p in (tmp_path / "demo").iterdir() if p.is_dir()) == ["hf", "vertex"]


# --- the command line ---------------------------------------------------------------------------------

def test_format_option_repeated_comma_and_all(warehouse, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["-q", "export", "-d", "demo", "-w", str(warehouse), "-o", str(out),
                 "--format", "hf", "--format", "vertex"]) == 0
    assert sorted(p.name for p in (out / "demo").iterdir() if p.is_dir()) == ["hf", "vertex"]
    text = capsys.readouterr().out
    assert f"  hf: {out}/demo/hf/ (train.parquet, validation.parquet, test.parquet)\n" in text
    assert f"  vertex: {out}/demo/vertex/ (train.jsonl, validation.jsonl)\n" in text
    assert main(["-q", "export", "-d", "demo", "-w", str(warehouse), "-o", str(out),
                 "--format", "llamafactory,axolotl"]) == 0
    assert sorted(p.name for p in (out / "demo").iterdir() if p.is_dir()) == ["axolotl", "llamafactory"]
    assert main(["-q", "export", "-d", "demo", "-w", str(warehouse), "-o", str(out), "-f", "all"]) == 0
    assert sorted(p.name for p in (out / "demo").iterdir() if p.is_dir()) == sorted(FORMATS)
    assert main(["-q", "export", "-d", "demo", "-w", str(warehouse), "-o", str(out), "--format", "openai"]) == 0
    assert sorted(p.name for p in (out / "demo").iterdir()) == BASE_FILES


def test_unknown_format_exits_2_naming_the_known_ones(warehouse, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["-q", "export", "-d", "demo", "-w", str(warehouse), "-o", str(out), "--format", "hf,xml"]) == 2
    captured = capsys.readouterr()
    assert captured.err == ("error: unknown export format 'xml': expected one of openai, hf, llamafactory, "
                            "axolotl, vertex, all (repeat --format or separate names with commas)\n")
    assert captured.out == ""
    assert not out.exists()
    # the format is checked before the warehouse: the error is about the format even without a warehouse
    assert main(["-q", "export", "-w", str(tmp_path / "absent.duckdb"), "-o", str(out), "--format", "xml"]) == 2
    assert "unknown export format 'xml'" in capsys.readouterr().err
