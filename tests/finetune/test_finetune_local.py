"""The local LoRA backend end to end on CPU with a tiny model built here (no download): TRL's prompt-completion
data (the loss on the assistant turn only), over_length, gradient accumulation and checkpointing, training into
the warehouse, interruption and resumption, quantisation refused without CUDA, the transformers server under the
real openai SDK, evaluation against it, and the clear errors for missing model folders."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("trl")
pytest.importorskip("datasets")

import openai  # noqa: E402

from finetune.cli import main  # noqa: E402
from finetune.errors import FinetuneError, LocalModelError, PlanError  # noqa: E402
from finetune.local import IGNORE, build_trainer, plan_local, train_local  # noqa: E402
from finetune.local_plan import render_example, steps_per_epoch  # noqa: E402
from finetune.store import Store  # noqa: E402
from finetune_helpers import build_tiny_model, make_export, make_test_split  # noqa: E402

DATASET = "ds"
TRAIN, VALID, BATCH, EPOCHS = 24, 4, 2, 3
STEPS_PER_EPOCH = TRAIN // BATCH  # 12
# every example of the export renders to 30 tokens with the tiny model's template (see test_labels_…): 21 of
# prompt (system 7, user 13, generation prompt 1) and 9 of completion (8 words and symbols + <|end|>)
PROMPT_TOKENS, COMPLETION_TOKENS = 21, 9


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(exports root, examples of the test split, model folder, warehouse)."""
    root = tmp_path_factory.mktemp("local")
    exports = make_export(root / "exports", DATASET, train=TRAIN, validation=VALID)
    examples = make_test_split(exports, DATASET, per_strategy=1)
    texts = []
    for name in ("train.jsonl", "validation.jsonl", "test.jsonl"):
        for line in (exports / DATASET / name).read_text().splitlines():
            texts += [message["content"] for message in json.loads(line)["messages"]]
    model_dir = build_tiny_model(root / "tiny-llama", texts)
    return exports, examples, model_dir, root / "warehouse.duckdb"


@pytest.fixture(scope="module")
def trained(setup):
    """The job stopped after epoch 1 through the CLI (--max-steps), then resumed to the end through the API."""
    exports, _, model_dir, warehouse = setup
    output = warehouse.parent / "job"
    common = ["--exports", str(exports), "--base-model", str(model_dir), "--epochs", str(EPOCHS), "--batch-size",
              str(BATCH), "--learning-rate", "5e-3", "--output-dir", str(output), "--seed", "1"]
    code = main(["--quiet", "--warehouse", str(warehouse), "train", "--backend", "local", "--dataset", DATASET,
                 *common, "--max-steps", str(STEPS_PER_EPOCH), "--submit"])
    store = Store(warehouse)
    after_first = {
        "steps": [row[0] for row in store.query("SELECT step FROM finetune.job_metrics ORDER BY step")],
        "status": store.query("SELECT status FROM finetune.jobs")[0][0],
        "checkpoints": [row[0] for row in store.query("SELECT step_number FROM finetune.job_checkpoints")],
    }
    plan = plan_local(DATASET, model_dir, exports=exports, epochs=EPOCHS, batch_size=BATCH, learning_rate=5e-3,
                      output_dir=output, seed=1, merge=True)
    result = train_local(plan, store, quiet=True)
    return code, after_first, plan, result, store


def test_labels_cover_only_assistant_tokens(setup, tmp_path):
    """TRL's prepared rows, collated: the prompt (system and user turns, generation prompt) is IGNORE, the
    assistant turn and its end-of-turn marker are the labels, padding is IGNORE; the planner's `render_example`
    counts the very same tokens."""
    exports, _, model_dir, _ = setup
    plan = plan_local(DATASET, model_dir, exports=exports, batch_size=BATCH, output_dir=tmp_path / "job")
    trainer, data = build_trainer(plan, quiet=True)
    tokenizer = trainer.processing_class
    assert len(trainer.train_dataset) == len(data.train) == TRAIN and len(trainer.eval_dataset) == VALID
    # offline, even though the hub client and datasets were imported (by the tiny model's build) before: no
    # hub request, no TRL usage ping, no datasets download
    import datasets.config
    from huggingface_hub import constants

    assert constants.is_offline_mode() and constants.HF_HUB_DISABLE_TELEMETRY and datasets.config.HF_HUB_OFFLINE
    first = data.train[0]
    assert [m["role"] for m in first["prompt"]] == ["system", "user"] and first["completion"] == [
        {"role": "assistant", "content": "SELECT * FROM t WHERE c >= 0"}]
    short = render_example(tokenizer, [{"role": "user", "content": "SELECT 1"},
                                       {"role": "assistant", "content": "SELECT 1"}])
    short_labels = [IGNORE] * short.prompt_length + short.input_ids[short.prompt_length:]
    rows = [trainer.train_dataset[0], trainer.train_dataset[7], {"input_ids": short.input_ids, "labels": short_labels}]
    batch = trainer.data_collator(rows)
    width = PROMPT_TOKENS + COMPLETION_TOKENS
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape == (3, width)
    for index, (row, answer) in enumerate(((rows[0], "SELECT * FROM t WHERE c >= 0"),
                                          (rows[1], "SELECT * FROM t WHERE c >= 7"))):
        expected = tokenizer(answer + " <|end|>", add_special_tokens=False)["input_ids"]
        labels = batch["labels"][index].tolist()
        assert len(expected) == COMPLETION_TOKENS
        assert labels == [IGNORE] * PROMPT_TOKENS + expected  # the prompt is never a label
        assert batch["input_ids"][index, PROMPT_TOKENS - 1] == tokenizer.convert_tokens_to_ids("<|assistant|>")
        example = data.train[0 if index == 0 else 7]
        planned = render_example(tokenizer, example["prompt"] + example["completion"])
        assert (planned.input_ids, planned.prompt_length, planned.trained) == (row["input_ids"], PROMPT_TOKENS,
                                                                                COMPLETION_TOKENS)
    # the short example: 5 prompt tokens (<|user|> SELECT 1 <|end|> <|assistant|>), then "SELECT 1 <|end|>",
    # then padding (pad id, mask 0, IGNORE)
    answer = tokenizer("SELECT 1 <|end|>", add_special_tokens=False)["input_ids"]
    assert batch["labels"][2].tolist() == [IGNORE] * 5 + answer + [IGNORE] * (width - 8)
    assert batch["attention_mask"][2].tolist() == [1] * 8 + [0] * (width - 8)
    assert (batch["input_ids"][2, 8:] == tokenizer.pad_token_id).all()
    # a longer conversation: the last assistant turn is the completion, earlier turns are context
    longer = first["prompt"] + first["completion"] + [{"role": "user", "content": "again"},
                                                       {"role": "assistant", "content": "SELECT 1"}]
    planned = render_example(tokenizer, longer)
    assert planned.input_ids[planned.prompt_length:] == answer


def test_training_lowers_the_loss_into_the_warehouse(trained):
    _, _, plan, result, store = trained
    total = STEPS_PER_EPOCH * EPOCHS
    assert result.status == "succeeded" and result.global_step == total == result.total_steps
    rows = store.query("SELECT step, total_steps, train_loss, train_mean_token_accuracy, valid_loss, "
                       "valid_mean_token_accuracy FROM finetune.job_metrics WHERE job_id = ? ORDER BY step",
                       [plan.job_id])
    assert [row[0] for row in rows] == list(range(1, total + 1))
    assert all(row[1] == total and row[2] is not None and 0 <= row[3] <= 1 for row in rows)
    first_loss = rows[0][2]
    last_epoch = [row[2] for row in rows if row[0] > total - STEPS_PER_EPOCH]
    assert sum(last_epoch) / len(last_epoch) < first_loss and max(last_epoch) < first_loss
    assert [row[0] for row in rows if row[4] is not None] == [STEPS_PER_EPOCH * e for e in range(1, EPOCHS + 1)]
    valid = [row[4] for row in rows if row[4] is not None]
    assert valid[-1] < valid[0] and all(row[5] is not None for row in rows if row[4] is not None)
    assert plan.job_id.startswith("local-") and len(plan.job_id) == len("local-") + 12
    job = store.query("SELECT endpoint, status, fine_tuned_model, dataset_name, trained_tokens, n_epochs FROM "
                      "finetune.jobs WHERE job_id = ?", [plan.job_id])[0]
    assert job[:4] == ("local", "succeeded", plan.job_id, DATASET) and job[5] == str(EPOCHS)
    assert job[4] == result.trained_tokens == TRAIN * (PROMPT_TOKENS + COMPLETION_TOKENS) * EPOCHS
    assert store.query("SELECT count(*) FROM finetune.job_results WHERE job_id = ?", [plan.job_id])[0][0] == total
    assert (plan.output_dir / "results.csv").is_file()
    assert (result.adapter_dir / "adapter_config.json").is_file() and (result.merged_dir / "config.json").is_file()
    # the OpenAI backend's readers work unchanged
    assert main(["--quiet", "--warehouse", str(store.path), "plot", plan.job_id, "--output",
                 str(plan.output_dir / "curves.png")]) == 0
    assert (plan.output_dir / "curves.png").stat().st_size > 1000
    print(f"\nloss {first_loss:.3f} -> last epoch {last_epoch[0]:.3f}..{last_epoch[-1]:.3f}, valid {valid}")


def test_interrupted_job_resumes_from_the_last_checkpoint(trained):
    code, after_first, plan, result, store = trained
    assert code == 0
    assert after_first == {"steps": list(range(1, STEPS_PER_EPOCH + 1)), "status": "interrupted",
                           "checkpoints": [STEPS_PER_EPOCH]}
    assert result.resumed_from is not None and result.resumed_from.name == f"checkpoint-{STEPS_PER_EPOCH}"
    steps = store.query("SELECT step, count(*) FROM finetune.job_metrics WHERE job_id = ? GROUP BY step ORDER BY step",
                        [plan.job_id])
    assert all(count == 1 for _, count in steps) and len(steps) == STEPS_PER_EPOCH * EPOCHS
    epochs = [STEPS_PER_EPOCH * e for e in range(1, EPOCHS + 1)]
    assert result.checkpoints == epochs
    checkpoints = store.query("SELECT step_number, fine_tuned_model_checkpoint, valid_loss FROM "
                              "finetune.job_checkpoints WHERE job_id = ? ORDER BY step_number", [plan.job_id])
    assert [(row[0], row[1]) for row in checkpoints] == [(step, plan.checkpoint_name(step)) for step in epochs]
    assert all(row[2] is not None for row in checkpoints)
    models = store.query("SELECT model_name, kind, step, endpoint FROM finetune.models WHERE job_id = ? "
                         "ORDER BY kind = 'final', step", [plan.job_id])
    assert models == [(plan.checkpoint_name(step), "checkpoint", step, "local") for step in epochs] + \
        [(plan.job_id, "final", epochs[-1], "local")]
    for step in epochs:
        marker = json.loads((plan.output_dir / f"checkpoint-{step}" / "pinoloft.json").read_text())
        assert marker["model_name"] == plan.checkpoint_name(step)
    # a third run of the finished job trains nothing more
    again = train_local(plan, store, quiet=True)
    assert again.global_step == epochs[-1] and again.status == "succeeded"
    assert store.query("SELECT count(*) FROM finetune.job_metrics WHERE job_id = ?", [plan.job_id])[0][0] == epochs[-1]


def test_served_adapter_answers_the_sdk_and_is_evaluated(trained, setup, monkeypatch, tmp_path):
    from finetune.client import load_service
    from finetune.evaluate import Mutator, evaluate
    from finetune.serve import load_model, make_server

    _, examples, _, _ = setup
    _, _, plan, result, store = trained
    model = load_model(result.adapter_dir, max_new_tokens_cap=12)
    assert model.name == plan.job_id
    server = make_server(model, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = openai.OpenAI(base_url=server.base_url, api_key="anything", max_retries=0)
        assert [card.id for card in client.models.list().data] == [plan.job_id]
        answer = client.chat.completions.create(model=plan.job_id, temperature=0, max_tokens=5, messages=[
            {"role": "system", "content": "You mutate SQL queries."},
            {"role": "user", "content": "train 1: SELECT * FROM t WHERE c > 1"}])
        assert isinstance(answer.choices[0].message.content, str) and answer.choices[0].message.role == "assistant"
        usage = answer.usage
        assert 0 < usage.completion_tokens <= 5 and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
        again = client.chat.completions.create(model=plan.job_id, temperature=0, max_tokens=5,
                                               messages=[{"role": "user", "content": "train 1: SELECT"}])
        assert again.choices[0].message.content == client.chat.completions.create(
            model=plan.job_id, temperature=0, max_tokens=5,
            messages=[{"role": "user", "content": "train 1: SELECT"}]).choices[0].message.content  # greedy
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="other", messages=[{"role": "user", "content": "x"}])

        for name in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "anything")
        monkeypatch.chdir(tmp_path)  # no finetune/service.yml here: the environment decides
        exports = setup[0]
        evaluation = evaluate(DATASET, [Mutator("local", "chat", plan.job_id)], store, exports=exports,
                              service=load_service(None), reports=None, quiet=True, concurrency=2)
    finally:
        server.shutdown()
        server.server_close()
    rows = store.query("SELECT example_id, raw_output, exact, normalised, conforms, clean, error, completion_tokens "
                       "FROM finetune.eval_predictions WHERE evaluation_id = ? AND mutator = 'local' ORDER BY 1",
                       [evaluation.evaluation_id])
    assert [row[0] for row in rows] == sorted(example["example_id"] for example in examples)
    for _, raw, exact, normalised, conforms, clean, error, tokens in rows:
        assert error is None and raw is not None and tokens > 0
        assert exact is not None and normalised is not None and conforms is not None and clean is not None


def test_missing_model_folders_are_clear_errors(setup, tmp_path, capsys):
    exports, _, model_dir, warehouse = setup
    missing = tmp_path / "no-such-model"
    with pytest.raises(LocalModelError, match=str(missing)):
        plan_local(DATASET, missing, exports=exports)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LocalModelError, match="config.json"):
        plan_local(DATASET, empty, exports=exports)
    code = main(["--warehouse", str(tmp_path / "w.duckdb"), "train", "--backend", "local", "--dataset", DATASET,
                 "--exports", str(exports), "--base-model", str(missing)])
    assert code == 2 and str(missing) in capsys.readouterr().err  # an input error: the folder the user named
    assert main(["train", "--backend", "local", "--dataset", DATASET, "--exports", str(exports)]) == 2
    assert main(["train", "--dataset", DATASET, "--exports", str(exports), "--base-model", str(model_dir)]) == 2
    # an adapter whose base model has gone
    from finetune.serve import load_model

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(missing), "r": 8}))
    with pytest.raises(LocalModelError, match=str(missing)):
        load_model(adapter)
    assert main(["serve", "--model-dir", str(missing)]) == 2


def test_core_imports_without_torch():
    code = ("import sys\n"
            "for name in ('torch', 'transformers', 'peft', 'accelerate', 'trl', 'datasets'): sys.modules[name] = None\n"
            "import finetune, finetune.cli, finetune.local, finetune.serve, finetune.evaluate\n"
            "finetune.cli.build_parser().parse_args(['train', '--backend', 'local', '--dataset', 'x'])\n"
            "try:\n"
            "    finetune.local._imports()\n"
            "except finetune.errors.LocalModelError as error:\n"
            "    print(error)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    assert "'local' extra" in done.stdout


def _write_chat(path: Path, examples: list[tuple[int, int]]) -> None:
    """A chat JSONL file: per example, a one-word system turn, a user turn of `k` words and an assistant turn of
    `m` words. The tiny template renders it to k + m + 7 tokens: <|system|> s <|end|> <|user|> k words <|end|>
    <|assistant|> (the prompt, k + 6) and m words <|end|> (the completion, m + 1)."""
    lines = [json.dumps({"messages": [{"role": "system", "content": "s"},
                                      {"role": "user", "content": " ".join(["u"] * k)},
                                      {"role": "assistant", "content": " ".join(["a"] * m)}]})
             for k, m in examples]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def test_over_length_drop_and_truncate(setup, tmp_path, caplog):
    _, _, model_dir, _ = setup
    exports = tmp_path / "exports"
    # max_length 20. Lines 3 (24 tokens, a long answer), 4 (25: the prompt alone is 22) and 6 (21) are longer;
    # cut to 20, line 4 keeps no assistant token, lines 3 and 6 keep 9 and 1 of theirs
    _write_chat(exports / "long" / "train.jsonl", [(3, 3), (3, 3), (5, 12), (16, 2), (4, 4), (13, 1)])
    _write_chat(exports / "long" / "validation.jsonl", [(3, 20), (2, 2)])
    caplog.set_level(logging.INFO, logger="finetune.local")

    def prepared(over_length: str):
        plan = plan_local("long", model_dir, exports=exports, batch_size=2, max_length=20, over_length=over_length,
                          output_dir=tmp_path / over_length)
        trainer, data = build_trainer(plan, quiet=True)
        lengths = {split: [len(ids) for ids in dataset["input_ids"]]
                   for split, dataset in (("train", trainer.train_dataset), ("validation", trainer.eval_dataset))}
        trained = [sum(label != IGNORE for label in labels) for labels in trainer.train_dataset["labels"]]
        return data, lengths, trained

    data, lengths, trained = prepared("drop")
    assert data.longer == {"train": 3, "validation": 1} and data.left_out == {"train": 3, "validation": 1}
    assert lengths == {"train": [13, 13, 15], "validation": [11]} and trained == [4, 4, 5]
    assert "3 of 6 example(s) are longer than max_length 20 tokens and are left out (over_length: drop), " \
           "line(s) 3, 4, 6" in caplog.text

    caplog.clear()
    data, lengths, trained = prepared("truncate")
    assert data.longer == {"train": 3, "validation": 1} and data.left_out == {"train": 1}
    assert lengths == {"train": [13, 13, 20, 15, 20], "validation": [20, 11]} and trained == [4, 4, 9, 5, 1]
    assert "are cut to it (over_length: truncate), line(s) 3, 4, 6" in caplog.text
    assert "train: 1 example(s) have no assistant token left within max_length 20 tokens" in caplog.text

    # every example too long to keep: nothing to train on is a plan error, before any model is loaded
    plan = plan_local("long", model_dir, exports=exports, max_length=12, over_length="drop",
                      output_dir=tmp_path / "none")
    with pytest.raises(PlanError, match="no training examples left"):
        build_trainer(plan, quiet=True)


def test_gradient_accumulation_and_checkpointing(setup, tmp_path, caplog):
    """12 batches of 2 per epoch, accumulated 5 at a time: 3 optimizer steps (5, 5 and the last 2), with
    activations recomputed in the backward pass."""
    exports, _, model_dir, _ = setup
    store = Store(tmp_path / "warehouse.duckdb")
    plan = plan_local(DATASET, model_dir, exports=exports, epochs=1, batch_size=BATCH, learning_rate=5e-3,
                      gradient_accumulation_steps=5, gradient_checkpointing=True, output_dir=tmp_path / "job", seed=1)
    caplog.set_level(logging.INFO, logger="finetune.local")
    result = train_local(plan, store, quiet=True)
    assert steps_per_epoch(TRAIN, BATCH, accumulation=5) == 3 and steps_per_epoch(TRAIN, BATCH) == STEPS_PER_EPOCH
    assert (result.status, result.global_step, result.total_steps, result.checkpoints) == ("succeeded", 3, 3, [3])
    rows = store.query("SELECT step, total_steps, train_loss, valid_loss FROM finetune.job_metrics WHERE job_id = ? "
                       "ORDER BY step", [plan.job_id])
    assert [row[:2] for row in rows] == [(1, 3), (2, 3), (3, 3)] and all(row[2] > 0 for row in rows)
    assert rows[-1][3] is not None  # the epoch's evaluation
    assert f"{plan.job_id}: 3 optimizer step(s), each over 5 batch(es) of 2 example(s) per device; quantization " \
           "none; gradient checkpointing on" in caplog.text
    assert result.trained_tokens == TRAIN * (PROMPT_TOKENS + COMPLETION_TOKENS)
    assert (result.adapter_dir / "adapter_config.json").is_file()


@pytest.mark.parametrize("quantization", ["4bit", "8bit"])
def test_quantization_without_cuda_is_a_clear_error(setup, tmp_path, capsys, quantization):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: quantised LoRA is allowed here")
    exports, _, model_dir, _ = setup
    warehouse = tmp_path / "warehouse.duckdb"
    plan = plan_local(DATASET, model_dir, exports=exports, quantization=quantization, output_dir=tmp_path / "job")
    with pytest.raises(FinetuneError, match=f"quantization: {quantization} \\(--quantization\\) needs a CUDA GPU") \
            as raised:
        train_local(plan, Store(warehouse), quiet=True)
    assert raised.value.exit_code == 2 and "quantization: none" in str(raised.value)
    plan.recipe = tmp_path / "qlora.yml"  # from a recipe file: the message names it
    with pytest.raises(PlanError, match=f"quantization: {quantization} \\(recipe {plan.recipe}\\)"):
        train_local(plan, Store(warehouse), quiet=True)
    # refused before anything was loaded or written: no job, no output folder
    assert Store(warehouse).query("SELECT count(*) FROM finetune.jobs")[0][0] == 0
    assert not plan.output_dir.exists()
    # the command: the dry run plans (for a GPU machine, say), --submit is refused with the same line
    command = ["--quiet", "--warehouse", str(warehouse), "train", "--backend", "local", "--dataset", DATASET,
               "--exports", str(exports), "--base-model", str(model_dir), "--quantization", quantization,
               "--output-dir", str(plan.output_dir)]
    assert main(command) == 0
    capsys.readouterr()
    assert main([*command, "--submit"]) == 2
    assert f"error: quantization: {quantization} (--quantization) needs a CUDA GPU" in capsys.readouterr().err
    assert Store(warehouse).query("SELECT count(*) FROM finetune.jobs")[0][0] == 0
    assert not plan.output_dir.exists()
