"""The local backend's dry run: what a LoRA job would train on and roughly how much GPU memory it needs,
worked out before anything is trained, stored or written.

* **Tokens.** Every example of the export is rendered with the base model's own tokenizer and chat template
  the way TRL's SFTTrainer renders prompt-completion data: the prompt is the conversation before the last
  assistant message, rendered with the generation prompt; the completion is the rest; the trained tokens are
  those after the longest common prefix of the tokenized prompt and the tokenized whole (`render_example`).
  `max_length` then cuts an example to its first tokens (`over_length: truncate`, SFTTrainer's `keep_start`) or
  leaves it out (`drop`). An example left with no trained token is refused (PlanError, exit 2), naming its line:
  SFTTrainer would drop it without a word.
* **Steps.** ceil(ceil(examples / (batch × devices)) / accumulation) optimizer steps per epoch, as the
  transformers Trainer counts them.
* **Memory** (`estimate_memory`): an estimate, not a measurement, for one CUDA device training in bfloat16.
  The parameter count and the decoder's linear layers come from the safetensors headers (the shapes, read
  without loading a weight) or, without them, from config.json's sizes; every term is in `MemoryEstimate.lines`
  and in docs/finetune.md ("How the memory estimate is computed").

`split_prompt_completion`, `render_example` and `read_examples` are also what training uses, so that the plan
and the job count the same tokens.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from .errors import LocalModelError, PlanError
from .local import LocalPlan, load_tokenizer, offline
from .recipes import ALL_LINEAR

__all__ = ["Example", "Rendered", "SplitTokens", "Architecture", "LinearLayer", "MemoryEstimate", "PlanReport",
           "read_examples", "split_prompt_completion", "render_example", "read_architecture", "architecture_from_config",
           "estimate_memory", "steps_per_epoch", "inspect_plan", "require_trainable", "memory_table", "GIB",
           "OPEN_TRAINED", "CLOSE_TRAINED"]

GIB = 1024 ** 3
OPEN_TRAINED, CLOSE_TRAINED = "⟦", "⟧"  # around the trained tokens in a preview
LISTED_LINES = 20  # line numbers named in a message before "and N more"

# Bytes per stored value (see docs/finetune.md, "How the memory estimate is computed").
BF16 = 2
# bitsandbytes NF4 with double quantisation: 4 bits per weight, an 8-bit absmax per block of 64 weights and an
# fp32 constant per 256 of those blocks
NF4_BYTES = (4 + 8 / 64 + 32 / (64 * 256)) / 8
# LoRA's trainable parameters, bytes each: the weight, its gradient and AdamW's two moments. peft keeps the
# adapter in float32 on a bf16 base (4 + 4 + 8); TRL casts it to bfloat16 on a 4/8-bit base (2 + 2 + 4).
ADAPTER_BYTES = {"none": 16, "4bit": 8, "8bit": 8}
# The logits of every token: bfloat16 from the model, their float32 upcast for the loss and the float32
# log-softmax cross-entropy keeps for the backward pass.
LOGIT_BYTES = BF16 + 4 + 4
CUDA_CONTEXT = 0.5 * GIB  # the CUDA context and the allocator's slack, which torch does not count


# -- examples and their tokens -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    line: int  # 1-based line number in the file
    messages: list[dict[str, str]]


def read_examples(path: Path) -> list[Example]:
    """The chat examples of an export file with their line numbers (blank lines skipped but counted)."""
    examples = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                messages = json.loads(text)["messages"]
                messages = [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
            except (ValueError, KeyError, TypeError):
                raise PlanError(f"{path}:{number}: not a chat example ({{\"messages\": [{{role, content}}, …]}})"
                                ) from None
            if not any(message["role"] == "assistant" for message in messages):
                raise PlanError(f"{path}:{number}: no assistant message to learn from")
            examples.append(Example(number, messages))
    return examples


def split_prompt_completion(messages: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    """(prompt, completion) as SFTTrainer's prompt-completion data: the prompt is every message before the
    last assistant message (system and user for an export's examples), the completion that message and any
    after it."""
    last = max(index for index, message in enumerate(messages) if message["role"] == "assistant")
    return list(messages[:last]), list(messages[last:])


def _token_ids(encoded: Any) -> list[int]:
    ids = encoded["input_ids"] if not isinstance(encoded, list) else encoded
    if ids and isinstance(ids[0], list):  # a batch of one
        ids = ids[0]
    return list(ids)


@dataclass(frozen=True)
class Rendered:
    """One example as the trainer sees it: its token ids, and how many of the first ones are the prompt (no
    loss); the rest are trained."""

    line: int
    input_ids: list[int]
    prompt_length: int

    @property
    def total(self) -> int:
        return len(self.input_ids)

    @property
    def trained(self) -> int:
        return self.total - self.prompt_length

    def fits(self, max_length: int | None) -> bool:
        return not max_length or self.total <= max_length

    def kept(self, max_length: int | None, over_length: str) -> int:
        """Tokens left after `over_length` (0: the example is dropped)."""
        if self.fits(max_length):
            return self.total
        return 0 if over_length == "drop" else int(max_length)  # type: ignore[arg-type]

    def trained_kept(self, max_length: int | None, over_length: str) -> int:
        return max(0, self.kept(max_length, over_length) - self.prompt_length)


def render_example(tokenizer, messages: Sequence[dict], line: int = 0) -> Rendered:
    """`messages` tokenized with the tokenizer's chat template as SFTTrainer does for a conversational
    prompt-completion example: the prompt with the generation prompt, then prompt + completion; the trained
    tokens start where the two diverge (which is after the prompt unless the template renders the prompt alone
    differently)."""
    prompt, completion = split_prompt_completion(messages)
    prompt_ids = _token_ids(tokenizer.apply_chat_template(prompt, tokenize=True, return_dict=True,
                                                          add_generation_prompt=True)) if prompt else []
    full_ids = _token_ids(tokenizer.apply_chat_template(prompt + completion, tokenize=True, return_dict=True))
    common = 0
    for token, other in zip(prompt_ids, full_ids):
        if token != other:
            break
        common += 1
    return Rendered(line, full_ids, common)


@dataclass(frozen=True)
class Spread:
    minimum: int
    median: float
    p95: int
    maximum: int

    @staticmethod
    def of(values: Iterable[int]) -> "Spread | None":
        ordered = sorted(values)
        if not ordered:
            return None
        p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank
        return Spread(ordered[0], statistics.median(ordered), p95, ordered[-1])

    def __str__(self) -> str:
        return f"{self.minimum}/{self.median:g}/{self.p95}/{self.maximum}"


def _lines(numbers: Sequence[int]) -> str:
    shown = ", ".join(str(number) for number in numbers[:LISTED_LINES])
    return shown + (f" and {len(numbers) - LISTED_LINES} more" if len(numbers) > LISTED_LINES else "")


@dataclass
class SplitTokens:
    """The token figures of one export file under the plan's max_length and over_length."""

    path: Path
    examples: list[Rendered]
    max_length: int | None
    over_length: str

    @property
    def longer(self) -> list[Rendered]:
        return [example for example in self.examples if not example.fits(self.max_length)]

    @property
    def kept(self) -> list[Rendered]:
        return [example for example in self.examples if example.kept(self.max_length, self.over_length)]

    @property
    def zero_trained(self) -> list[int]:
        """Lines of the examples that would be trained on no token at all."""
        return [example.line for example in self.kept
                if example.trained_kept(self.max_length, self.over_length) == 0]

    def trained_tokens(self) -> int:
        return sum(example.trained_kept(self.max_length, self.over_length) for example in self.examples)

    def total_tokens(self) -> int:
        return sum(example.kept(self.max_length, self.over_length) for example in self.examples)

    def longest_kept(self) -> int:
        return max((example.kept(self.max_length, self.over_length) for example in self.examples), default=0)

    def lines(self) -> list[str]:
        name = self.path.name
        if not self.examples:
            return [f"  {name}: no examples"]
        total = Spread.of(example.total for example in self.examples)
        trained = Spread.of(example.trained for example in self.examples)
        out = [f"  {name}: {len(self.examples)} example(s); tokens per example min/median/p95/max: "
               f"total {total}, trained (assistant) {trained}"]
        longer = self.longer
        if not self.max_length:
            out.append("    no max_length: every example is trained whole")
        elif not longer:
            out.append(f"    none longer than max_length {self.max_length}")
        elif self.over_length == "drop":
            out.append(f"    {len(longer)} longer than max_length {self.max_length}, dropped (over_length drop): "
                       f"lines {_lines([example.line for example in longer])}; {len(self.kept)} example(s) remain")
        else:
            before = sum(example.trained for example in longer)
            after = sum(example.trained_kept(self.max_length, self.over_length) for example in longer)
            out.append(f"    {len(longer)} longer than max_length {self.max_length}, cut to their first "
                       f"{self.max_length} tokens (over_length truncate): lines "
                       f"{_lines([example.line for example in longer])}; their trained tokens {before} -> {after}")
        if longer:
            kept = self.kept
            out.append(f"    as trained: total {Spread.of(e.kept(self.max_length, self.over_length) for e in kept)}, "
                       f"trained {Spread.of(e.trained_kept(self.max_length, self.over_length) for e in kept)}")
        out.append(f"    per epoch: {self.trained_tokens()} trained of {self.total_tokens()} tokens")
        return out


def steps_per_epoch(examples: int, batch_size: int, accumulation: int = 1, processes: int = 1) -> int:
    """Optimizer steps in one epoch, as the transformers Trainer counts them: batches per device, then one
    step per `accumulation` batches (a last partial group is a step too)."""
    return math.ceil(math.ceil(examples / (batch_size * processes)) / accumulation)


# -- the model's shape and the memory estimate ---------------------------------------------------------------


class ArchitectureUnknown(ValueError):
    """config.json does not say enough to estimate memory (the plan goes on without an estimate)."""


@dataclass(frozen=True)
class LinearLayer:
    """A kind of linear module in the decoder layers (q_proj, …), its shape and how many there are."""

    name: str
    in_features: int
    out_features: int
    count: int

    @property
    def parameters(self) -> int:
        return self.in_features * self.out_features * self.count


@dataclass(frozen=True)
class Architecture:
    """What the estimate needs of a decoder-only model. `linear` are the decoder layers' linear modules: what
    LoRA targets with all-linear and what bitsandbytes quantises (embeddings, norms and the output layer stay
    bfloat16)."""

    hidden_size: int
    intermediate_size: int
    layers: int
    query_size: int  # heads × head dim
    key_value_size: int  # key/value heads × head dim
    vocab_size: int
    parameters: int
    linear: tuple[LinearLayer, ...]
    source: str  # where the parameter count came from

    @property
    def linear_parameters(self) -> int:
        return sum(layer.parameters for layer in self.linear)

    def targeted(self, target_modules: str | Sequence[str]) -> list[LinearLayer]:
        if target_modules == ALL_LINEAR:
            return list(self.linear)
        wanted = set(target_modules)
        return [layer for layer in self.linear if layer.name in wanted]


def _text_config(config: dict) -> dict:
    """The language model's part of a config (multimodal models nest it under text_config)."""
    if "hidden_size" not in config and isinstance(config.get("text_config"), dict):
        return config["text_config"]
    return config


def architecture_from_config(config: dict, source: str = "config.json") -> Architecture:
    """The shape of a Llama/Qwen2/Mistral-style decoder from its config.json sizes alone: per layer q, k, v, o
    projections and a gated MLP (gate, up, down), two RMSNorms; embeddings, a final norm and an output layer
    unless tied to the embeddings."""
    config = _text_config(config)
    try:
        hidden = int(config["hidden_size"])
        layers = int(config["num_hidden_layers"])
        heads = int(config["num_attention_heads"])
        intermediate = int(config["intermediate_size"])
        vocab = int(config["vocab_size"])
    except (KeyError, TypeError, ValueError) as error:
        raise ArchitectureUnknown(f"config.json lacks {error}") from None
    kv_heads = int(config.get("num_key_value_heads") or heads)
    head_dim = int(config.get("head_dim") or hidden // heads)
    query, key_value = heads * head_dim, kv_heads * head_dim
    linear = (LinearLayer("q_proj", hidden, query, layers), LinearLayer("k_proj", hidden, key_value, layers),
              LinearLayer("v_proj", hidden, key_value, layers), LinearLayer("o_proj", query, hidden, layers),
              LinearLayer("gate_proj", hidden, intermediate, layers), LinearLayer("up_proj", hidden, intermediate, layers),
              LinearLayer("down_proj", intermediate, hidden, layers))
    # Qwen2 has biases on q, k and v without saying so; others say attention_bias / mlp_bias
    attention_bias = config.get("model_type") == "qwen2" or bool(config.get("attention_bias"))
    biases = 0
    if attention_bias:
        biases += layers * (query + 2 * key_value + (0 if config.get("model_type") == "qwen2" else hidden))
    if config.get("mlp_bias"):
        biases += layers * (2 * intermediate + hidden)
    embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings", False) else 2)
    norms = (2 * layers + 1) * hidden
    parameters = sum(layer.parameters for layer in linear) + biases + embeddings + norms
    return Architecture(hidden, intermediate, layers, query, key_value, vocab, parameters, linear, source)


def _safetensors_shapes(folder: Path) -> dict[str, list[int]] | None:
    """Every tensor's shape from the headers of the folder's safetensors files (the 8-byte header length and
    the JSON header at the start of each file: no weight is read); None without complete safetensors."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
    elif (folder / "model.safetensors").is_file():
        files = ["model.safetensors"]
    else:
        return None
    shapes: dict[str, list[int]] = {}
    for name in files:
        try:
            with (folder / name).open("rb") as handle:
                (length,) = struct.unpack("<Q", handle.read(8))
                if length > 100 * 1024 * 1024:
                    return None
                header = json.loads(handle.read(length))
        except (OSError, struct.error, ValueError):
            return None
        shapes.update({key: value["shape"] for key, value in header.items() if key != "__metadata__"})
    return shapes


def read_architecture(folder: Path) -> Architecture:
    """The model folder's shape: sizes from config.json; the parameter count and the decoder layers' linear
    modules from the safetensors headers when there are any (exact, for any architecture), else from the sizes.
    ArchitectureUnknown when config.json does not say enough."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text())
    except (OSError, ValueError) as error:
        raise ArchitectureUnknown(f"cannot read config.json ({error})") from None
    from_config = architecture_from_config(config)
    shapes = _safetensors_shapes(Path(folder))
    if not shapes:
        return from_config
    linear: dict[tuple[str, int, int], int] = {}
    for name, shape in shapes.items():
        parts = name.split(".")
        if len(shape) == 2 and parts[-1] == "weight" and "layers" in parts[:-2]:
            key = (parts[-2], shape[1], shape[0])
            linear[key] = linear.get(key, 0) + 1
    if not linear:
        return from_config
    return Architecture(
        from_config.hidden_size, from_config.intermediate_size, from_config.layers, from_config.query_size,
        from_config.key_value_size, from_config.vocab_size, sum(math.prod(shape) for shape in shapes.values()),
        tuple(LinearLayer(name, inputs, outputs, count) for (name, inputs, outputs), count in sorted(linear.items())),
        "safetensors headers")


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes on one device, by what holds them; an estimate (see the module docstring)."""

    architecture: Architecture
    quantization: str
    lora_parameters: int
    batch_size: int
    length: int
    gradient_checkpointing: bool
    weights: float
    adapter: float
    activations: float
    logits: float
    overhead: float = CUDA_CONTEXT

    @property
    def total(self) -> float:
        return self.weights + self.adapter + self.activations + self.logits + self.overhead

    def lines(self) -> list[str]:
        arch = self.architecture
        weight_kind = {"none": "bf16 (2 bytes each)", "4bit": f"NF4 4-bit ({NF4_BYTES:.3f} bytes each) for the "
                       "decoder's linear layers, bf16 for the rest", "8bit": "int8 (about 1 byte each) for the "
                       "decoder's linear layers, bf16 for the rest"}[self.quantization]
        adapter_kind = ("fp32 weight, gradient and 2 AdamW moments" if self.quantization == "none"
                        else "bf16 weight, gradient and 2 AdamW moments")
        tokens = self.batch_size * self.length
        return [
            f"GPU memory, an ESTIMATE for one CUDA device in bfloat16 (not a measurement; how it is computed: "
            f"docs/finetune.md): about {_size(self.total)}",
            f"    weights      {_size(self.weights):>10}  {_count(arch.parameters)} parameters ({arch.source}) at "
            f"{weight_kind}",
            f"    LoRA         {_size(self.adapter):>10}  {_count(self.lora_parameters)} trainable parameters × "
            f"{ADAPTER_BYTES[self.quantization]} bytes ({adapter_kind})",
            f"    activations  {_size(self.activations):>10}  batch {self.batch_size} × {self.length} tokens, "
            f"{arch.layers} layers, " + ("with" if self.gradient_checkpointing else "without")
            + " gradient checkpointing",
            f"    logits       {_size(self.logits):>10}  {tokens} tokens × vocabulary {arch.vocab_size:,} × "
            f"{LOGIT_BYTES} bytes",
            f"    CUDA context {_size(self.overhead):>10}  (a fixed allowance)",
        ]


def _size(value: float) -> str:
    """Bytes in GiB, MiB or KiB, whichever reads best (a tiny test model is not 0.00 GiB)."""
    for unit, scale in (("GiB", GIB), ("MiB", 1024 ** 2)):
        if value >= scale / 10:
            return f"{value / scale:.2f} {unit}"
    return f"{value / 1024:.1f} KiB"


def _count(value: int) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f}{unit}"
    return str(value)


def _weight_bytes(arch: Architecture, quantization: str) -> float:
    rest = (arch.parameters - arch.linear_parameters) * BF16
    if quantization == "4bit":
        return rest + arch.linear_parameters * NF4_BYTES
    if quantization == "8bit":  # int8 weights and a float32 scale per output row
        return rest + sum(layer.parameters + 4 * layer.out_features * layer.count for layer in arch.linear)
    return arch.parameters * BF16


def estimate_memory(arch: Architecture, *, quantization: str = "none", lora_r: int = 8,
                    target_modules: str | Sequence[str] = ALL_LINEAR, lora_dropout: float = 0.05,
                    batch_size: int = 4, length: int = 512, gradient_checkpointing: bool = False) -> MemoryEstimate:
    """Training memory on one device for LoRA on `arch` (see docs/finetune.md for each term). PlanError when
    `target_modules` names no linear module of the model (LoRA would train nothing)."""
    targeted = arch.targeted(target_modules)
    if not targeted:
        raise PlanError(f"lora target_modules {', '.join(target_modules)} match no linear module of the model "
                        f"(its decoder layers have {', '.join(sorted({layer.name for layer in arch.linear}))})")
    lora_parameters = sum(lora_r * (layer.in_features + layer.out_features) * layer.count for layer in targeted)
    tokens = batch_size * length
    hidden, query, key_value = arch.hidden_size, arch.query_size, arch.key_value_size
    # Values autograd keeps per token in one decoder layer: the two RMSNorms' inputs and outputs (4 × hidden),
    # q, k, v, the rotary-embedded q and k and the attention output (3 × query + 3 × key/value; SDPA keeps no
    # attention matrix), and the MLP's gate, up, activation and product (4 × intermediate) ...
    per_layer = 4 * hidden + 3 * query + 3 * key_value + 4 * arch.intermediate_size
    # ... plus, with LoRA dropout, the dropped-out copy of each adapted module's input
    if lora_dropout > 0:
        per_layer += sum(layer.in_features * layer.count for layer in targeted) // max(arch.layers, 1)
    if gradient_checkpointing:  # each layer's input is kept, one layer at a time is recomputed in full
        activations = tokens * BF16 * (arch.layers * hidden + per_layer)
    else:
        activations = tokens * BF16 * arch.layers * per_layer
    return MemoryEstimate(arch, quantization, lora_parameters, batch_size, length, gradient_checkpointing,
                          weights=_weight_bytes(arch, quantization),
                          adapter=lora_parameters * ADAPTER_BYTES[quantization], activations=activations,
                          logits=tokens * arch.vocab_size * LOGIT_BYTES)


def memory_table(configs: dict[str, dict], *, batch_size: int, length: int, lora_r: int) -> str:
    """The markdown table of docs/finetune.md ("Choosing a local base model"): each model's parameters and the
    estimate for LoRA on bf16 weights and on 4-bit weights, without and with gradient checkpointing, from
    published config.json values (all-linear targets, dropout 0.05)."""
    rows = ["| base model | parameters | LoRA parameters | LoRA, bf16 | LoRA, 4-bit | bf16 + checkpointing "
            "| 4-bit + checkpointing |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, config in configs.items():
        arch = architecture_from_config(config)
        estimates = [estimate_memory(arch, quantization=quantization, lora_r=lora_r, batch_size=batch_size,
                                     length=length, gradient_checkpointing=checkpointing)
                     for checkpointing in (False, True) for quantization in ("none", "4bit")]
        rows.append(f"| {name} | {arch.parameters / 1e9:.2f}B | {estimates[0].lora_parameters / 1e6:.1f}M | "
                    + " | ".join(f"{estimate.total / GIB:.1f} GiB" for estimate in estimates) + " |")
    return "\n".join(rows)


# -- the dry run -----------------------------------------------------------------------------------------------


@dataclass
class PlanReport:
    plan: LocalPlan
    train: SplitTokens
    validation: SplitTokens | None
    processes: int
    steps_per_epoch: int
    total_steps: int
    memory: MemoryEstimate | None
    memory_note: str | None = None  # why there is no estimate
    previews: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """What makes the plan untrainable: examples with no trained token left, no example left at all."""
        found = []
        plan = self.plan
        for split in (self.train, self.validation):
            if split is None:
                continue
            lines = split.zero_trained
            if lines:
                found.append(
                    f"{split.path} line(s) {_lines(lines)}: no assistant token left to train on (max_length "
                    f"{plan.max_length}, over_length {plan.over_length}); raise max_length, use over_length drop, "
                    "or shorten these examples")
        if not self.train.kept:
            found.append(f"{self.train.path}: no example fits max_length {plan.max_length} (over_length drop left "
                         "none); raise max_length")
        return found

    def lines(self) -> list[str]:
        plan = self.plan
        out = [f"tokens (the base model's tokenizer and chat template; trained = the completion, i.e. the last "
               f"assistant message and its end-of-turn tokens):"]
        out += self.train.lines()
        if self.validation:
            out += self.validation.lines()
        examples = len(self.train.kept)
        devices = f" × {self.processes} devices" if self.processes > 1 else ""
        out.append(f"steps: {examples} example(s) / (batch {plan.batch_size} × accumulation "
                   f"{plan.gradient_accumulation_steps}{devices}) = {self.steps_per_epoch} optimizer step(s) per "
                   f"epoch, {self.steps_per_epoch * plan.epochs} in {plan.epochs} epoch(s)"
                   + (f"; this run stops at step {self.total_steps} (max_steps)"
                      if self.total_steps < self.steps_per_epoch * plan.epochs else ""))
        if self.memory:
            out += self.memory.lines()
        else:
            out.append(f"GPU memory: no estimate ({self.memory_note})")
        for preview in self.previews:
            out.append(preview)
        return out

    def format(self) -> str:
        return "\n".join(self.lines())


def _preview(tokenizer, rendered: Rendered, path: Path, max_length: int | None, over_length: str) -> str:
    kept = rendered.kept(max_length, over_length)
    head = (f"--- {path.name} line {rendered.line}: {rendered.total} tokens, {rendered.trained} trained"
            + (f"; dropped (longer than max_length {max_length})" if not kept else "")
            + (f"; cut to {kept} (max_length)" if kept and kept < rendered.total else "") + " ---")

    def decode(ids: list[int]) -> str:
        return tokenizer.decode(ids, skip_special_tokens=False) if ids else ""

    ids, start = rendered.input_ids, rendered.prompt_length
    end = kept or rendered.total  # a dropped example is shown whole
    text = decode(ids[:min(start, end)]) + OPEN_TRAINED + decode(ids[start:end]) + CLOSE_TRAINED
    if end < rendered.total:
        text += f" ✂ {rendered.total - end} token(s) cut"
    return head + "\n" + text


def inspect_plan(plan: LocalPlan, *, preview: int = 0, tokenizer=None, processes: int | None = None) -> PlanReport:
    """The dry run's figures for `plan` (see the module docstring). Loads the tokenizer only (no weights) and
    writes nothing; call `require_trainable` on the result before training."""
    if tokenizer is None:
        offline()
        try:
            import transformers  # noqa: F401
        except ImportError as error:
            raise LocalModelError(f"the local backend needs the 'local' extra ({error.name} is missing): "
                                  "pip install -e '.[local]' (make setup installs it)") from None
        tokenizer = load_tokenizer(plan.base_model)
    processes = processes or int(os.environ.get("WORLD_SIZE", "1"))

    def split(path: Path) -> SplitTokens:
        rendered = [render_example(tokenizer, example.messages, example.line) for example in read_examples(path)]
        return SplitTokens(path, rendered, plan.max_length, plan.over_length)

    train = split(plan.train_path)
    if not train.examples:
        raise PlanError(f"{plan.train_path}: no training examples")
    validation = split(plan.validation_path) if plan.validation_path else None
    per_epoch = steps_per_epoch(len(train.kept), plan.batch_size, plan.gradient_accumulation_steps, processes)
    total = per_epoch * plan.epochs
    if plan.max_steps:
        total = min(total, plan.max_steps)
    memory, note = None, None
    try:
        arch = read_architecture(plan.base_model)
        memory = estimate_memory(arch, quantization=plan.quantization, lora_r=plan.lora_r,
                                 target_modules=plan.lora_target_modules, lora_dropout=plan.lora_dropout,
                                 batch_size=plan.batch_size, length=max(train.longest_kept(), 1),
                                 gradient_checkpointing=plan.gradient_checkpointing)
    except ArchitectureUnknown as error:
        note = str(error)
    previews = [_preview(tokenizer, rendered, plan.train_path, plan.max_length, plan.over_length)
                for rendered in train.examples[:max(preview, 0)]]
    return PlanReport(plan, train, validation, processes, per_epoch, total, memory, note, previews)


def require_trainable(report: PlanReport) -> None:
    """PlanError (exit 2) naming the files and lines when the plan would train on nothing somewhere."""
    problems = report.problems()
    if problems:
        raise PlanError("; ".join(problems))
