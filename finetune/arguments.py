"""Command-line arguments as dataclasses (parsed by transformers.HfArgumentParser, as in run_classification.py).

`dataclass_parser` makes a command's parser (bot/cli's one shape: a subparser of `python -m finetune` and of
`helpline`) whose flags are a dataclass's fields, kebab-case (the underscore spelling is read too); `as_dataclass`
turns the parsed flags back into the dataclass, whose __post_init__ checks them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

from bot.model.base_models import DEFAULT_BASE_MODEL

from . import environment
from .calibrate import OOS_MAX_ACCURACY_DROP, OOS_TARGET_RECALL
from .counterfactual_augment import SHARE as COUNTERFACTUAL_SHARE


def dataclass_parser(subparsers, name: str, help: str | None, description: str, *dtypes):
    """The subparser of command ``name`` with every field of ``dtypes`` as a flag (help text from the field)."""
    from transformers import HfArgumentParser

    return subparsers.add_parser(name, help=help, description=description,
                                 parents=[HfArgumentParser(dtypes, add_help=False)])


def as_dataclass(args, dtype, **fixed):
    """The ``dtype`` instance of the parsed flags (those not given take the field's default)."""
    names = {f.name for f in fields(dtype) if f.init} - set(fixed)
    return dtype(**{k: v for k, v in vars(args).items() if k in names}, **fixed)


def default_emotion_data() -> str | None:
    """GoEmotions under HELPLINE_DATA if it is there (the Hub id is used only when asked for)."""
    path = environment.emotion_data()
    return path if Path(path).is_dir() else None


@dataclass
class TrainArguments:
    output: str = field(metadata={"help": "Directory to write the trained model to."})
    intent_data: list[str] = field(metadata={"help": "Intent data: CSV (text,intent), transcripts JSONL/CSV, "
                                             "CLINC150 JSON, a catalogue YAML, or a Hub id. Several allowed."})
    emotion_data: str | None = field(default=None, metadata={
        "help": "GoEmotions folder (train.tsv, dev.tsv, labels.txt) or Hub id. Default: "
                "$HELPLINE_DATA/goemotions/original. Not needed with --init-from (the emotion head is kept)."})
    init_from: str | None = field(default=None, metadata={
        "help": "Start from an existing Helpline model directory, keeping its heads (new intents get new rows)."})
    base_model: str = field(default=DEFAULT_BASE_MODEL, metadata={
        "help": "Encoder to fine-tune: the bundled all-MiniLM-L6-v2 by default; any local HF model folder or "
                "Hub id (online)."})
    epochs: int = field(default=5, metadata={"help": "Passes over the intent data (see --min-task-examples)."})
    max_steps: int = field(default=-1, metadata={
        "help": "Stop after this many optimiser steps (overrides epochs). Under 50 is a quick run, a smoke test: "
                "it leaves out the upset head, the slow part of a short run (add one later with `python -m "
                "finetune upset --model DIR`)."})
    batch_size: int = field(default=32, metadata={"help": "Examples per batch; a batch holds one task."})
    learning_rate: float = field(default=8e-5, metadata={"help": "Peak learning rate of the encoder."})
    head_learning_rate: float = field(default=2e-3, metadata={"help": "Peak learning rate of the two heads."})
    warmup_ratio: float = field(default=0.06, metadata={"help": "Fraction of steps with a linear warm-up."})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay (not on biases/norms)."})
    label_smoothing: float = field(default=0.1, metadata={"help": "Label smoothing of the intent loss."})
    emotion_loss_weight: float = field(default=1.0, metadata={"help": "Weight of the emotion loss."})
    emotion_positive_weight: float = field(default=0.5, metadata={
        "help": "Weigh each emotion label's positive examples by (negatives / positives) ** this, so rare "
                "labels count in training as they do in macro-F1 (0 = plain BCE; 0.5, the square root; "
                "measured: benchmarks/RESULTS.md, Training choices)."})
    min_task_examples: int = field(default=4000, metadata={
        "help": "Each epoch shows each task at least this many examples (small intent sets are repeated, "
                "GoEmotions is sampled), so neither head starves."})
    emotion_examples_per_epoch: int = field(default=16800, metadata={
        "help": "GoEmotions examples per epoch (sampled without repeats across epochs: 5 epochs see its 43k "
                "about twice). "
                "More trains the emotion head better at the cost of time."})
    upset_examples_per_epoch: int = field(default=3000, metadata={
        "help": "With the upset head: real customer texts labelled upset or not (the upset head's training "
                "tweets, finetune/upset_fit.py) shown each epoch as a third task with a throw-away head, so the "
                "sentence vector the upset head reads learns how customers complain (0 = off; measured: "
                "benchmarks/RESULTS.md, Frustration in context)."})
    max_length: int = field(default=64, metadata={"help": "Longest message in tokens; longer ones are cut."})
    validation_fraction: float | None = field(default=None, metadata={
        "help": "Share of each intent to hold out for validation when the data has no validation split: it then "
                "gives intent validation metrics, calibrates the OOS threshold on held-out out-of-scope "
                "examples and chooses the lexical blend weight. 0 trains on every example (more accurate on "
                "held-out Banking77: benchmarks/RESULTS.md, Training choices). Default: 0.1 when the data has "
                "out-of-scope examples "
                "(their threshold needs held-out ones), else 0."})
    oos_max_accuracy_drop: float = field(default=OOS_MAX_ACCURACY_DROP, metadata={
        "help": "With no out-of-scope validation data, intents held out in turn stand in for out-of-scope "
                "messages to choose the score (docs/how-it-works.md), and its threshold turns away at most this "
                "share of the correctly answered in-scope messages (validation, or every training message scored "
                "out of fold); 0 = no out-of-scope guard."})
    device: Literal["auto", "cpu", "cuda"] = field(default="auto", metadata={
        "help": "Where to train: auto = a CUDA GPU when torch sees one, else the CPU; cpu; cuda (an error "
                "without one). The saved model is the same float32 model either way."})
    bf16: Literal["auto", "yes", "no"] = field(default="auto", metadata={
        "help": "Train in bfloat16 autocast (faster on CPUs with AVX512-BF16 or AMX and on bfloat16 GPUs); "
                "auto = when the device has it. Inference stays float32."})
    freeze_word_embeddings: bool = field(default=True, metadata={
        "help": "Keep the word-embedding matrix fixed (half of MiniLM's weights; faster steps, "
                "same accuracy in our runs)."})
    frozen_layers: int = field(default=0, metadata={
        "help": "Freeze the embeddings and this many of the encoder's lowest layers: their output for each "
                "message is computed once and cached, so every training step runs only the layers above "
                "(3 of MiniLM's 6: about half the time a step, at a cost in GoEmotions macro-F1: "
                "benchmarks/RESULTS.md, Training choices; 0 = fine-tune the whole encoder)."})
    linear_probe: bool = field(default=True, metadata={
        "help": "Before fine-tuning, fit the intent head on frozen encoder features (LP-FT, Kumar et al. 2022): "
                "the encoder then starts from a good head instead of being pulled about by a random one."})
    oos_target_recall: float = field(default=OOS_TARGET_RECALL, metadata={
        "help": "With out-of-scope validation data: the share of it the OOS threshold must catch (the lowest "
                "threshold that does is chosen, keeping in-scope accuracy as high as possible). 0.88 aims a "
                "little above 85%%, so that new out-of-scope messages are caught at least 85%% of the time."})
    oos_method: str = field(default="auto", metadata={
        "help": "How out-of-scope messages are told, with out-of-scope validation data: auto = the best of msp "
                "(the intent head's top probability), knn1, knn10 (distance to the nearest training messages' "
                "sentence vectors), mahalanobis, knn_negatives (nearer the out-of-scope training examples than "
                "the in-scope ones) and msp_mahalanobis (the two together), by 5-fold cross-validation on "
                "validation data: the best in-scope accuracy among those whose OOS recall reaches 85%%; or one "
                "of them. Without out-of-scope validation data, see --oos-max-accuracy-drop."})
    rdrop_alpha: float = field(default=1.0, metadata={
        "help": "R-Drop on the intent head: run each intent batch twice and add this times the symmetric KL "
                "between the two (0 = off; the intent batches' work doubles)."})
    seed: int = field(default=42, metadata={"help": "Random seed for splits, sampling and initialisation."})
    lexical_head: bool = field(default=True, metadata={
        "help": "Also fit a TF-IDF (word + character n-gram) intent classifier and blend it with the encoder "
                "when that helps on validation or --lexical-weight is given (off: never)."})
    upset_head: bool = field(default=True, metadata={
        "help": "Fit the upset head (frustration and sentiment of each message, learnt from real customer text "
                "in HELPLINE_DATA/customer_sentiment, finetune/upset_fit.py) after training and export."})
    without_restricted_data: bool = field(default=False, metadata={
        "help": "Fit the upset head without the airline tweets (CC BY-NC-SA: non-commercial) and the "
                "complaints tweets (no licence stated), e.g. for a commercial deployment."})
    counterfactual_share: float = field(default=COUNTERFACTUAL_SHARE, metadata={
        "help": "Share of the intent examples also trained on with a name or a self-description added and the "
                "intent kept (finetune/counterfactual_terms.yaml), so neither moves the routing (measured: "
                "benchmarks/RESULTS.md, Counterfactual audit); 0: none."})
    slip_share: float = field(default=0.0, metadata={
        "help": "Share of the intent examples also trained on with one typing slip (a letter dropped, doubled, "
                "swapped or replaced by a neighbouring key) and the intent kept; 0: none (the spelling corrector "
                "does most of the work: benchmarks/RESULTS.md, Typos)."})
    spelling: bool = field(default=True, metadata={
        "help": "Give the model a spelling corrector: a word that is neither a training word, nor a whole word of the "
                "tokenizer, nor a word the emotion training texts use twice, is read as the most frequent training "
                "word one edit away (bot/model/spelling.py)."})
    mood_head: bool = field(default=False, metadata={
        "help": "Also fit the mood head (frustration read in the conversation's context, on GoEmotions and "
                "conversations we wrote): off by default, as it read real customers worse than the message "
                "alone (benchmarks/RESULTS.md, Frustration in context)."})
    lexical_weight: float | None = field(default=None, metadata={
        "help": "Blend weight of the lexical head (0-1). Default: chosen on validation; with no validation "
                "data 0 (not used: it gave the encoder nothing on held-out Banking77 splits)."})
    progress_file: str | None = field(default=None, metadata={
        "help": "Write training progress as JSON to this file (for the console's background retrain)."})
    export_onnx: bool = field(default=True, metadata={
        "help": "Also write an int8 ONNX graph into the model directory for fast serving "
                "(`python -m finetune export` does it later)."})

    def __post_init__(self):
        if self.epochs < 1 and self.max_steps <= 0:
            raise ValueError("--epochs must be at least 1 (or give --max-steps).")
        if self.frozen_layers < 0:
            raise ValueError("--frozen-layers must be 0 (none) or more.")
        for flag, share in (("--counterfactual-share", self.counterfactual_share), ("--slip-share", self.slip_share)):
            if not 0 <= share <= 1:
                raise ValueError(f"{flag} must be between 0 and 1, not {share}.")
        if self.emotion_positive_weight < 0:
            raise ValueError("--emotion-positive-weight must be 0 (plain BCE) or more.")
        if self.batch_size < 1:
            raise ValueError("--batch-size must be at least 1.")
        if self.validation_fraction is not None and not 0.0 <= self.validation_fraction < 0.5:
            raise ValueError("--validation-fraction must be at least 0 (no validation split) and below 0.5.")
        if self.lexical_weight is not None and not 0.0 <= self.lexical_weight <= 1.0:
            raise ValueError("--lexical-weight must be between 0 (encoder alone) and 1.")
        if self.emotion_data is None and self.init_from is None:
            self.emotion_data = default_emotion_data()
            if self.emotion_data is None:
                raise ValueError(f"no emotion data: pass --emotion-data DIR (a GoEmotions folder) or set "
                                 f"HELPLINE_DATA (now {environment.data_dir()}) to a folder holding "
                                 "goemotions/original.")


@dataclass
class EvaluateArguments:
    model: str = field(metadata={"help": "The Helpline model directory to score."})
    intent_test: str | None = field(default=None, metadata={
        "help": "CSV with text,intent (intent 'oos' marks out-of-scope), or any intent data format."})
    emotion_test: str | None = field(default=None, metadata={"help": "GoEmotions TSV (text, label ids, id)."})
    output: str | None = field(default=None, metadata={"help": "Write the metrics as JSON to this file."})
    batch_size: int = field(default=64, metadata={"help": "Messages per inference batch."})

    def __post_init__(self):
        if not self.intent_test and not self.emotion_test:
            raise ValueError("nothing to evaluate: give --intent-test FILE and/or --emotion-test FILE.")
