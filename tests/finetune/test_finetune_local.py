"""The local LoRA backend end to end on CPU with a tiny model built here (no download): loss masking, training
into the warehouse, interruption and resumption, the transformers server under the real openai SDK, evaluation
against it, and the clear errors for missing model folders."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

import openai  # noqa: E402

from finetune.cli import main  # noqa: E402
from finetune.errors import LocalModelError  # noqa: E402
from finetune.local import Collator, IGNORE, plan_local, tokenize_conversation, train_local  # noqa: E402
from finetune.store import Store  # noqa: E402
from finetune_helpers import make_export, make_test_split  # noqa: E402

DATASET = "ds"
TRAIN, VALID, BATCH, EPOCHS = 24, 4, 2, 3
STEPS_PER_EPOCH = TRAIN // BATCH  # 12
SPECIALS = ["<unk>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|> {% endif %}")


def build_tiny_model(folder: Path, texts: list[str]) -> Path:
    """A word-level tokenizer over `texts` with a chat template, and a 2-layer Llama, saved to `folder`."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words: dict[str, int] = {token: index for index, token in enumerate(SPECIALS)}
    splitter = pre_tokenizers.Whitespace()
    for text in texts:
        for word, _ in splitter.pre_tokenize_str(text):
            words.setdefault(word, len(words))
    backend = Tokenizer(models.WordLevel(vocab=words, unk_token="<unk>"))
    backend.pre_tokenizer = splitter
    backend.add_special_tokens(SPECIALS)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>",
                                        eos_token="<|end|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(words), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
                         pad_token_id=words["<pad>"], eos_token_id=words["<|end|>"], bos_token_id=None)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


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
                 *common, "--max-steps", str(STEPS_PER_EPOCH)])
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


def test_labels_cover_only_assistant_tokens(setup):
    from transformers import AutoTokenizer

    _, _, model_dir, _ = setup
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    messages = [{"role": "system", "content": "You mutate SQL queries."},
                {"role": "user", "content": "train 3: SELECT * FROM t WHERE c > 3"},
                {"role": "assistant", "content": "SELECT * FROM t WHERE c >= 3"}]
    row = tokenize_conversation(tokenizer, messages)
    assistant = tokenizer("SELECT * FROM t WHERE c >= 3 <|end|>", add_special_tokens=False)["input_ids"]
    kept = [label for label in row["labels"] if label != IGNORE]
    assert kept == assistant and len(kept) == 9  # 8 words and symbols of the answer + the end-of-turn marker
    assert len(row["input_ids"]) > 2 * len(kept)  # system and user turns are there, unlabelled
    assert row["labels"][-len(kept):] == assistant
    # two assistant turns: both labelled, the user turn between them not
    longer = messages + [{"role": "user", "content": "again"}, {"role": "assistant", "content": "SELECT 1"}]
    row2 = tokenize_conversation(tokenizer, longer)
    second = tokenizer("SELECT 1 <|end|>", add_special_tokens=False)["input_ids"]
    assert [label for label in row2["labels"] if label != IGNORE] == assistant + second
    batch = Collator(tokenizer.pad_token_id)([row, row2])
    assert batch["input_ids"].shape == batch["labels"].shape == (2, len(row2["input_ids"]))
    assert int((batch["labels"] != IGNORE).sum()) == len(assistant) * 2 + len(second)
    assert int(batch["attention_mask"][0].sum()) == len(row["input_ids"])
    assert (batch["input_ids"][0, len(row["input_ids"]):] == tokenizer.pad_token_id).all()


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
    assert job[:4] == ("local", "succeeded", plan.job_id, DATASET) and job[4] > 0 and job[5] == str(EPOCHS)
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
            "for name in ('torch', 'transformers', 'peft', 'accelerate'): sys.modules[name] = None\n"
            "import finetune, finetune.cli, finetune.local, finetune.serve, finetune.evaluate\n"
            "finetune.cli.build_parser().parse_args(['train', '--backend', 'local', '--dataset', 'x'])\n"
            "try:\n"
            "    finetune.local._imports()\n"
            "except finetune.errors.LocalModelError as error:\n"
            "    print(error)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    assert "'local' extra" in done.stdout
