"""Recipes (finetune/recipes/*.yml): the loader's checks and errors (naming the file and the key), the shipped
example, flags overriding a recipe key by key (errors then naming the flag), and `train --backend local
--recipe` resolving and printing the whole recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finetune.recipes import LoraSettings, Recipe, RecipeError, load_recipe

REPOSITORY = Path(__file__).resolve().parents[2]
SHIPPED = REPOSITORY / "finetune" / "recipes" / "demo-qwen2.5-coder-0.5b.yml"


def write(tmp_path: Path, text: str, name: str = "r.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_shipped_recipe_loads_with_every_key():
    recipe = load_recipe(SHIPPED)
    assert recipe == Recipe(
        dataset="demo", base_model=Path("data/base-models/Qwen2.5-Coder-0.5B-Instruct"), epochs=3, max_steps=None,
        batch_size=4, gradient_accumulation_steps=1, learning_rate=2e-4,
        lora=LoraSettings(r=16, alpha=32, dropout=0.05, target_modules="all-linear"), quantization="none",
        gradient_checkpointing=False, max_length=1024, over_length="truncate", seed=42, merge=False, path=SHIPPED)
    resolved = recipe.resolved()
    # every setting a recipe can hold is in the resolved form (what is logged and stored with the job)
    assert set(resolved) == {"dataset", "base_model", "epochs", "max_steps", "batch_size",
                             "gradient_accumulation_steps", "learning_rate", "lora", "quantization",
                             "gradient_checkpointing", "max_length", "over_length", "seed", "merge", "recipe"}
    assert resolved["lora"] == {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"}
    assert json.loads(recipe.to_json()) == resolved


def test_missing_keys_take_the_defaults_and_a_list_of_modules_is_kept(tmp_path):
    path = write(tmp_path, "dataset: ds\nlora:\n  target_modules: [q_proj, v_proj]\nlearning_rate: 1e-4\n")
    recipe = load_recipe(path)
    assert recipe == Recipe(dataset="ds", lora=LoraSettings(target_modules=("q_proj", "v_proj")),
                            learning_rate=1e-4, path=path)  # 1e-4 is a string to PyYAML, a number to us
    assert recipe.resolved()["lora"]["target_modules"] == ["q_proj", "v_proj"]
    assert load_recipe(write(tmp_path, "", "empty.yml")) == Recipe(path=tmp_path / "empty.yml")


@pytest.mark.parametrize(("text", "message"), [
    # unknown keys, with the closest known one
    ("dataset: ds\nepoch: 3\n", "r.yml: unknown key 'epoch' (did you mean epochs?); known: "),
    ("lora:\n  rank: 8\n", "r.yml: lora: unknown key 'rank'"),
    # bad values
    ("quantization: 3bit\n", "r.yml: quantization: must be one of none, 4bit, 8bit, not '3bit' (str)"),
    ("over_length: wrap\n", "r.yml: over_length: must be one of drop, truncate, not 'wrap' (str)"),
    ("epochs: 0\n", "r.yml: epochs: must be positive, not 0"),
    ("max_length: -5\n", "r.yml: max_length: must be positive, not -5"),
    ("learning_rate: 0\n", "r.yml: learning_rate: must be a finite number above 0, not 0"),
    ("lora:\n  dropout: 1.5\n", "r.yml: lora.dropout: must be a number from 0 up to (not including) 1, not 1.5"),
    ("seed: -1\n", "r.yml: seed: must be at least 0, not -1"),
    # wrong types
    ("epochs: three\n", "r.yml: epochs: must be an integer, not 'three' (str)"),
    ("batch_size: 2.5\n", "r.yml: batch_size: must be an integer, not 2.5 (float)"),
    ("max_steps: true\n", "r.yml: max_steps: must be an integer, not True (bool)"),
    ("merge: yes please\n", "r.yml: merge: must be true or false, not 'yes please' (str)"),
    ("gradient_checkpointing: 1\n", "r.yml: gradient_checkpointing: must be true or false, not 1 (int)"),
    ("learning_rate: fast\n", "r.yml: learning_rate: must be a number, not 'fast' (str)"),
    ("lora:\n  r: 8.5\n", "r.yml: lora.r: must be an integer, not 8.5 (float)"),
    ("lora: 8\n", "r.yml: lora: must be a mapping of r, alpha, dropout, target_modules, not 8 (int)"),
    ("lora:\n  target_modules: []\n", "r.yml: lora.target_modules: must be all-linear or a list of module names"),
    ("dataset: [a, b]\n", "r.yml: dataset: must be a non-empty string, not ['a', 'b'] (list)"),
    # not a recipe at all
    ("- dataset: ds\n", "r.yml: a recipe is a mapping of settings (dataset: …, base_model: …), not list"),
    ("dataset: [unclosed\n", "r.yml: not valid YAML"),
])
def test_a_bad_recipe_is_an_error_naming_the_file_and_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    assert str(caught.value).startswith(f"{tmp_path}/{message}")
    assert caught.value.exit_code == 2


def test_a_missing_recipe_file_says_where_the_shipped_ones_are(tmp_path):
    with pytest.raises(RecipeError, match=r"nope\.yml: no such recipe file \(the shipped ones are in finetune/recipes/\)"):
        load_recipe(tmp_path / "nope.yml")


def test_flags_override_the_recipe_key_by_key_and_are_checked_alike(tmp_path):
    recipe = load_recipe(SHIPPED)
    changed = recipe.override(epochs=5, lora_r=4, max_length=None, quantization="4bit", merge=True,
                              gradient_checkpointing=True, lora_target_modules="q_proj,v_proj",
                              gradient_accumulation_steps=8, base_model=tmp_path)
    assert changed == Recipe(
        dataset="demo", base_model=tmp_path, epochs=5, batch_size=4, gradient_accumulation_steps=8,
        learning_rate=2e-4, lora=LoraSettings(r=4, alpha=32, dropout=0.05, target_modules=("q_proj", "v_proj")),
        quantization="4bit", gradient_checkpointing=True, max_length=1024, over_length="truncate", seed=42,
        merge=True, path=SHIPPED)  # max_length None: not given on the command line, the recipe's 1024 stays
    assert recipe.override(merge=False, gradient_checkpointing=False) == recipe  # a --no-… flag is a value too
    for flags, message in (({"lora_r": 0}, "--lora-r: must be positive, not 0"),
                           ({"quantization": "2bit"}, "--quantization: must be one of none, 4bit, 8bit"),
                           ({"lora_target_modules": " , "}, "--lora-target-modules: must be all-linear or a list"),
                           ({"learning_rate": float("nan")}, "--learning-rate: must be a finite number above 0")):
        with pytest.raises(RecipeError) as caught:
            recipe.override(**flags)
        assert str(caught.value).startswith(message)


# -- through the command line (a tiny tokenizer and config built here; the dry run needs no weights) ------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("transformers")
    from finetune_helpers import build_tiny_model, make_export

    root = tmp_path_factory.mktemp("recipes")
    exports = make_export(root / "exports", "ds", train=6, validation=2)
    texts = []
    for name in ("train.jsonl", "validation.jsonl"):
        for line in (exports / "ds" / name).read_text().splitlines():
            texts += [message["content"] for message in json.loads(line)["messages"]]
    return exports, build_tiny_model(root / "tiny", texts, weights=False)


def test_train_with_a_recipe_prints_the_resolved_recipe_first_with_the_flags_applied(tiny, tmp_path, capsys):
    from finetune.cli import main

    exports, model = tiny
    recipe = write(tmp_path, f"dataset: ds\nbase_model: {model}\nepochs: 2\nbatch_size: 3\nlora:\n  r: 4\n"
                   "max_length: 512\nover_length: drop\n")
    code = main(["--quiet", "--warehouse", str(tmp_path / "w.duckdb"), "train", "--backend", "local", "--recipe",
                 str(recipe), "--exports", str(exports), "--epochs", "4", "--lora-alpha", "8", "--quantization",
                 "8bit", "--gradient-checkpointing", "--gradient-accumulation-steps", "2", "--merge"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == "recipe (resolved; stored with the job as finetune.jobs.recipe_json):"
    assert json.loads(out[1]) == {
        "dataset": "ds", "base_model": str(model), "epochs": 4, "max_steps": None, "batch_size": 3,
        "gradient_accumulation_steps": 2, "learning_rate": 2e-4,
        "lora": {"r": 4, "alpha": 8, "dropout": 0.05, "target_modules": "all-linear"}, "quantization": "8bit",
        "gradient_checkpointing": True, "max_length": 512, "over_length": "drop", "seed": 42, "merge": True,
        "recipe": str(recipe)}
    assert out[2].startswith("dataset ds: local LoRA fine-tuning, job local-") and out[2].endswith(f"(recipe {recipe})")
    # 6 examples, batch 3, accumulation 2: ceil(ceil(6 / 3) / 2) = 1 step per epoch
    assert "steps: 6 example(s) / (batch 3 × accumulation 2) = 1 optimizer step(s) per epoch, 4 in 4 epoch(s)" in out


def test_a_bad_recipe_or_flag_exits_2_naming_the_file_or_flag_and_the_key(tiny, tmp_path, capsys):
    from finetune.cli import main

    exports, model = tiny
    common = ["--quiet", "--warehouse", str(tmp_path / "w.duckdb"), "train", "--backend", "local",
              "--exports", str(exports)]
    bad = write(tmp_path, f"dataset: ds\nbase_model: {model}\nlora:\n  alpha: sixteen\n")
    assert main([*common, "--recipe", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {bad}: lora.alpha: must be an integer, not 'sixteen' (str)"
    good = write(tmp_path, f"dataset: ds\nbase_model: {model}\n", "good.yml")
    assert main([*common, "--recipe", str(good), "--epochs", "many"]) == 2
    assert capsys.readouterr().err.strip() == "error: --epochs: must be an integer or auto, not 'many'"
    assert main([*common, "--recipe", str(good), "--max-steps", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --max-steps: must be positive, not 0"
    no_model = write(tmp_path, "dataset: ds\n", "no-model.yml")
    assert main([*common, "--recipe", str(no_model)]) == 2
    assert "no base model: give --base-model DIR" in capsys.readouterr().err
    # recipe-only flags are refused on the API backend
    assert main(["--quiet", "train", "--dataset", "ds", "--exports", str(exports), "--recipe", str(good),
                 "--quantization", "4bit"]) == 2
    assert capsys.readouterr().err.strip() == "error: --recipe, --quantization: only with --backend local"
