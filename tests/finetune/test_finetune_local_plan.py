"""The local backend's dry run: token figures with the model's own tokenizer and chat template against a hand
count, what max_length and over_length do, the refusal naming the lines that would train on nothing, steps
with accumulation, the memory estimate term by term, the job's fingerprint and stored recipe, a dry run that
writes nothing, and the memory table of docs/finetune.md recomputed from published config.json values.

The tiny tokenizer is word-level (finetune_helpers.build_tiny_model): every word, every run of punctuation
and every special token is one token, and a turn renders as `<|role|> content <|end|>`, so the counts below
are made by hand.

Run this file as a script to print the docs table: .venv/bin/python tests/finetune/test_finetune_local_plan.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from finetune.local_plan import (NF4_BYTES, Architecture, LinearLayer, architecture_from_config, estimate_memory,
                                 memory_table, read_architecture, steps_per_epoch)
from finetune.errors import PlanError

REPOSITORY = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "base-models"
# The docs table: these published configs (config.json values only), at this batch, length and rank.
TABLE_MODELS = ["Qwen2.5-Coder-0.5B-Instruct", "Qwen2.5-Coder-1.5B-Instruct", "Qwen2.5-Coder-7B-Instruct",
                "Llama-3.2-1B-Instruct", "Llama-3.2-3B-Instruct", "SmolLM2-135M-Instruct", "SmolLM2-360M-Instruct",
                "SmolLM2-1.7B-Instruct"]
TABLE_SETTINGS = {"batch_size": 4, "length": 512, "lora_r": 16}

SYSTEM = {"role": "system", "content": "Mutate it."}  # <|system|> Mutate it . <|end|>: 5 tokens


def chat(*turns: tuple[str, str]) -> str:
    return json.dumps({"messages": [SYSTEM] + [{"role": role, "content": text} for role, text in turns]})


TRAIN_LINES = [
    # line 1: prompt 5 + <|user|> SELECT a FROM t <|end|> (6) + <|assistant|> (1) = 12; trained SELECT b FROM t <|end|> = 5
    chat(("user", "SELECT a FROM t"), ("assistant", "SELECT b FROM t")),
    "",  # line 2: blank, skipped but counted
    # line 3: prompt 5 + 12 + 1 = 18; trained SELECT a , b FROM t WHERE a >= 1 <|end|> = 11; total 29
    chat(("user", "SELECT a , b FROM t WHERE a > 1"), ("assistant", "SELECT a , b FROM t WHERE a >= 1")),
    # line 4: prompt 5 + 4 + 1 = 10; trained SELECT 2 UNION SELECT 3 <|end|> = 6; total 16
    chat(("user", "SELECT 1"), ("assistant", "SELECT 2 UNION SELECT 3")),
    # line 5, two turns: only the last assistant message is the completion. Prompt 5 + 6 + (<|assistant|> SELECT b
    # FROM t <|end|>: 6) + (<|user|> again <|end|>: 3) + 1 = 21; trained SELECT c FROM t <|end|> = 5; total 26
    chat(("user", "SELECT a FROM t"), ("assistant", "SELECT b FROM t"), ("user", "again"),
         ("assistant", "SELECT c FROM t")),
]
TOTALS, TRAINED, PROMPTS = [17, 29, 16, 26], [5, 11, 6, 5], [12, 18, 10, 21]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(exports root, tokenizer-and-config model folder, tokenizer)."""
    pytest.importorskip("transformers")
    from transformers import AutoTokenizer

    from finetune_helpers import build_tiny_model

    root = tmp_path_factory.mktemp("local-plan")
    folder = root / "exports" / "ds"
    folder.mkdir(parents=True)
    (folder / "train.jsonl").write_text("\n".join(TRAIN_LINES) + "\n")
    (folder / "validation.jsonl").write_text(TRAIN_LINES[0] + "\n")
    texts = [message["content"] for line in TRAIN_LINES if line for message in json.loads(line)["messages"]]
    model = build_tiny_model(root / "tiny", texts, weights=False)
    return root / "exports", model, AutoTokenizer.from_pretrained(str(model), local_files_only=True)


def plan(setup, **settings):
    from finetune.local import plan_local

    exports, model, _ = setup
    return plan_local("ds", model, exports=exports, **{"batch_size": 2, "epochs": 3, **settings})


def test_tokens_per_example_match_a_hand_count(setup):
    from finetune.local_plan import inspect_plan, read_examples, render_example

    exports, _, tokenizer = setup
    examples = read_examples(exports / "ds" / "train.jsonl")
    assert [example.line for example in examples] == [1, 3, 4, 5]
    rendered = [render_example(tokenizer, example.messages, example.line) for example in examples]
    assert [r.total for r in rendered] == TOTALS
    assert [r.trained for r in rendered] == TRAINED
    assert [r.prompt_length for r in rendered] == PROMPTS
    assert tokenizer.convert_ids_to_tokens(rendered[0].input_ids[12:]) == ["SELECT", "b", "FROM", "t", "<|end|>"]

    report = inspect_plan(plan(setup), tokenizer=tokenizer, processes=1)
    assert report.problems() == []
    assert report.steps_per_epoch == 2 and report.total_steps == 6  # 4 examples, batch 2
    lines = report.lines()
    # totals 16, 17, 26, 29: median 21.5, p95 (nearest rank) 29; trained 5, 5, 6, 11
    assert lines[1] == ("  train.jsonl: 4 example(s); tokens per example min/median/p95/max: total 16/21.5/29/29, "
                        "trained (assistant) 5/5.5/11/11")
    assert lines[2:4] == ["    none longer than max_length 2048", "    per epoch: 27 trained of 88 tokens"]
    assert lines[4] == ("  validation.jsonl: 1 example(s); tokens per example min/median/p95/max: total 17/17/17/17, "
                        "trained (assistant) 5/5/5/5")
    assert "steps: 4 example(s) / (batch 2 × accumulation 1) = 2 optimizer step(s) per epoch, 6 in 3 epoch(s)" in lines


def test_truncate_cuts_and_drop_leaves_out_the_examples_over_max_length(setup):
    from finetune.local_plan import inspect_plan

    _, _, tokenizer = setup
    # max_length 22: lines 3 (29 tokens) and 5 (26) are longer; cut, they keep 22 - 18 = 4 and 22 - 21 = 1 trained
    truncated = inspect_plan(plan(setup, max_length=22), tokenizer=tokenizer, processes=1)
    assert truncated.lines()[2:5] == [
        "    2 longer than max_length 22, cut to their first 22 tokens (over_length truncate): lines 3, 5; their "
        "trained tokens 16 -> 5",
        "    as trained: total 16/19.5/22/22, trained 1/4.5/6/6",
        "    per epoch: 16 trained of 77 tokens"]
    assert truncated.steps_per_epoch == 2 and truncated.memory.length == 22  # padded to the longest as trained
    dropped = inspect_plan(plan(setup, max_length=22, over_length="drop"), tokenizer=tokenizer, processes=1)
    assert dropped.lines()[2:5] == [
        "    2 longer than max_length 22, dropped (over_length drop): lines 3, 5; 2 example(s) remain",
        "    as trained: total 16/16.5/17/17, trained 5/5.5/6/6",
        "    per epoch: 11 trained of 33 tokens"]
    assert dropped.steps_per_epoch == 1 and dropped.problems() == []
    nothing_left = inspect_plan(plan(setup, max_length=10, over_length="drop"), tokenizer=tokenizer, processes=1)
    assert nothing_left.problems()[-1].endswith("train.jsonl: no example fits max_length 10 (over_length drop left "
                                                "none); raise max_length")


def test_examples_left_with_no_trained_token_are_refused_naming_their_lines(setup, tmp_path, capsys, monkeypatch):
    from finetune.cli import main

    exports, model, _ = setup
    monkeypatch.chdir(tmp_path)
    # max_length 20 cuts line 5 (prompt 21 tokens) before its first trained token; line 3 keeps 2
    code = main(["--quiet", "--warehouse", str(tmp_path / "w.duckdb"), "train", "--backend", "local", "--dataset", "ds",
                 "--exports", str(exports), "--base-model", str(model), "--max-length", "20", "--submit"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {exports / 'ds' / 'train.jsonl'} line(s) 5: no assistant token left to train on (max_length 20, "
        "over_length truncate); raise max_length, use over_length drop, or shorten these examples")
    assert list(tmp_path.iterdir()) == []  # refused before anything was written, --submit or not


def test_a_dry_run_creates_no_job_and_no_folder_and_previews_the_trained_tokens(setup, tmp_path, capsys,
                                                                                 monkeypatch):
    from finetune.cli import main

    exports, model, _ = setup
    monkeypatch.chdir(tmp_path)  # the default output folder data/finetune/local/<job> would be made here
    code = main(["--warehouse", str(tmp_path / "w.duckdb"), "train", "--backend", "local", "--dataset", "ds",
                 "--exports", str(exports), "--base-model", str(model), "--preview", "2", "--max-length", "24"])
    out = capsys.readouterr().out
    assert code == 0
    assert list(tmp_path.iterdir()) == []  # no warehouse file, no output folder
    assert ("--- train.jsonl line 1: 17 tokens, 5 trained ---\n"
            "<|system|> Mutate it . <|end|> <|user|> SELECT a FROM t <|end|> <|assistant|>⟦SELECT b FROM t <|end|>⟧\n"
            "--- train.jsonl line 3: 29 tokens, 11 trained; cut to 24 (max_length) ---\n"
            "<|system|> Mutate it . <|end|> <|user|> SELECT a , b FROM t WHERE a > 1 <|end|> <|assistant|>"
            "⟦SELECT a , b FROM t⟧ ✂ 5 token(s) cut\n") in out  # 24 - 18 = 6 trained
    assert "--- train.jsonl line 4" not in out
    assert out.rstrip().endswith("dry run: no job was created and nothing was written. With --submit (make train "
                                 "BACKEND=local ... SUBMIT=1) it trains, or resumes the same job from its last "
                                 "checkpoint.")
    assert "GPU memory, an ESTIMATE for one CUDA device in bfloat16" in out


def test_the_job_id_covers_every_setting_but_where_a_run_stops_and_the_recipe_is_stored(setup, tmp_path):
    from finetune.local import _record_job
    from finetune.store import Store

    base = plan(setup)
    for changed in ({"quantization": "4bit"}, {"gradient_checkpointing": True}, {"gradient_accumulation_steps": 2},
                    {"over_length": "drop"}, {"lora_target_modules": ["q_proj"]}, {"max_length": 100},
                    {"lora_dropout": 0.0}):
        assert plan(setup, **changed).job_id != base.job_id, changed
    # max_steps is where this run stops (the rerun without it resumes the same job); merge an extra output
    assert plan(setup, max_steps=1, merge=True).job_id == base.job_id
    assert set(base.params()) >= {"gradient_accumulation_steps", "gradient_checkpointing", "quantization",
                                  "lora_target_modules", "over_length", "max_length", "lora_dropout"}
    store = Store(tmp_path / "w.duckdb")
    stored = plan(setup, max_steps=1, merge=True, quantization="8bit")
    _record_job(store, stored, "running")
    recipe_json, params_hash = store.query("SELECT recipe_json, params_hash FROM finetune.jobs")[0]
    assert json.loads(recipe_json) == stored.resolved_recipe()
    assert json.loads(recipe_json)["max_steps"] == 1 and json.loads(recipe_json)["quantization"] == "8bit"
    assert params_hash == stored.params_hash


def test_steps_per_epoch_count_batches_per_device_then_accumulation():
    assert steps_per_epoch(10, 4) == 3
    assert steps_per_epoch(10, 4, accumulation=2) == 2  # 3 batches: one step of 2, one of the last batch
    assert steps_per_epoch(10, 2, accumulation=2, processes=2) == 2  # 3 batches per device
    assert steps_per_epoch(8, 2, accumulation=4) == 1


# -- the model's shape and the memory estimate -----------------------------------------------------------------

SMALL = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100, "tie_word_embeddings": False}


def test_the_estimate_term_by_term_on_a_small_config():
    arch = architecture_from_config(SMALL)
    # per layer q 64x64, k and v 64x32, o 64x64, gate and up 64x128, down 128x64 = 36864; embeddings and output
    # layer 2 x 100 x 64; norms (2 per layer + 1) x 64
    assert arch.linear_parameters == 2 * 36864 and arch.parameters == 73728 + 12800 + 320
    estimate = estimate_memory(arch, lora_r=2, batch_size=2, length=8)
    # LoRA r 2: per layer 2 x (128 + 96 + 96 + 128 + 192 + 192 + 192) = 2048, two layers
    assert estimate.lora_parameters == 4096
    assert estimate.weights == 86848 * 2
    assert estimate.adapter == 4096 * 16
    # 16 tokens x 2 bytes x 2 layers x (4·64 + 3·64 + 3·32 + 4·128 = 1056, + dropout copies 5·64 + 64 + 128 = 512)
    assert estimate.activations == 16 * 2 * 2 * 1568
    assert estimate.logits == 16 * 100 * 10
    assert estimate.total == 173696 + 65536 + 100352 + 16000 + 0.5 * 1024 ** 3
    checkpointed = estimate_memory(arch, lora_r=2, batch_size=2, length=8, gradient_checkpointing=True)
    assert checkpointed.activations == 16 * 2 * (2 * 64 + 1568)  # every layer's input, one layer recomputed
    four_bit = estimate_memory(arch, quantization="4bit", lora_r=2, batch_size=2, length=8)
    assert NF4_BYTES == 0.515869140625
    assert four_bit.weights == 13120 * 2 + 73728 * NF4_BYTES == 26240 + 38034
    assert four_bit.adapter == 4096 * 8
    no_dropout = estimate_memory(arch, lora_r=2, batch_size=2, length=8, lora_dropout=0.0)
    assert no_dropout.activations == 16 * 2 * 2 * 1056
    some = estimate_memory(arch, lora_r=2, batch_size=2, length=8, target_modules=["q_proj", "v_proj"])
    assert some.lora_parameters == 2 * (256 + 192)
    with pytest.raises(PlanError, match="lora target_modules qkv match no linear module of the model"):
        estimate_memory(arch, target_modules=["qkv"])


def test_published_configs_give_the_published_parameter_counts():
    counts = {name: architecture_from_config(json.loads((FIXTURES / name / "config.json").read_text())).parameters
              for name in TABLE_MODELS}
    # the model cards' sizes: 0.49B, 1.54B, 7.61B, 1.24B, 3.21B, 135M, 362M, 1.71B
    assert counts == {"Qwen2.5-Coder-0.5B-Instruct": 494032768, "Qwen2.5-Coder-1.5B-Instruct": 1543714304,
                      "Qwen2.5-Coder-7B-Instruct": 7615616512, "Llama-3.2-1B-Instruct": 1235814400,
                      "Llama-3.2-3B-Instruct": 3212749824, "SmolLM2-135M-Instruct": 134515008,
                      "SmolLM2-360M-Instruct": 361821120, "SmolLM2-1.7B-Instruct": 1711376384}


def test_safetensors_headers_and_config_agree_with_the_real_model(tmp_path):
    pytest.importorskip("torch")
    from transformers import AutoConfig, AutoModelForCausalLM

    from finetune_helpers import build_tiny_model

    folder = build_tiny_model(tmp_path / "tiny", ["SELECT a FROM t"])
    from_headers = read_architecture(folder)
    from_config = architecture_from_config(json.loads((folder / "config.json").read_text()))
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder))
    assert from_headers.source == "safetensors headers" and from_config.source == "config.json"
    assert from_headers.parameters == from_config.parameters == sum(p.numel() for p in model.parameters())
    assert sorted(from_headers.linear, key=lambda layer: layer.name) == sorted(from_config.linear,
                                                                               key=lambda layer: layer.name)
    assert LinearLayer("q_proj", 64, 64, 2) in from_headers.linear
    assert isinstance(from_headers, Architecture)


def docs_table() -> str:
    configs = {name: json.loads((FIXTURES / name / "config.json").read_text()) for name in TABLE_MODELS}
    return memory_table(configs, **TABLE_SETTINGS)


def test_the_memory_table_in_the_docs_is_the_estimators():
    text = (REPOSITORY / "docs" / "finetune.md").read_text()
    found = re.search(r"<!-- memory-table: begin -->\n(.*?)\n<!-- memory-table: end -->", text, re.S)
    assert found, "docs/finetune.md lacks the memory table markers"
    assert found.group(1) == docs_table(), "regenerate: .venv/bin/python tests/finetune/test_finetune_local_plan.py"
    settings = TABLE_SETTINGS
    assert (f"batch {settings['batch_size']} × {settings['length']} tokens, LoRA r {settings['lora_r']}"
            in text), "the stated settings of the table changed"


if __name__ == "__main__":
    print(docs_table())
