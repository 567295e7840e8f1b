"""Small real inputs for the fine-tuning tests: an export folder with chat JSONL files, and a tiny local model
(word-level tokenizer with a chat template, 2-layer Llama) built in the test, since nothing is downloaded."""

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


# The tiny model's special tokens and chat template: each turn is `<|role|> content <|end|>` on its own line, and
# the generation prompt is `<|assistant|> `, so token counts can be made by hand (one token per word or symbol).
SPECIALS = ["<unk>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|> {% endif %}")


def build_tiny_model(folder: Path, texts: list[str], *, weights: bool = True) -> Path:
    """A word-level tokenizer over `texts` with a chat template, and a 2-layer Llama, saved to `folder`
    (`weights=False`: the tokenizer and config.json only, enough for a plan)."""
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
    if weights:
        LlamaForCausalLM(config).save_pretrained(folder)
    else:
        config.save_pretrained(folder)
    return folder
