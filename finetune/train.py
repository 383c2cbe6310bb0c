"""`python -m finetune train`: fine-tune one encoder with an intent head and an emotion head, on CPU.

Batches alternate between the two tasks at random (each batch is one task), both heads share the encoder,
and after training the out-of-scope threshold and the per-emotion thresholds are tuned on validation data.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path

import torch
from datasets import concatenate_datasets

from bot import HelplineModel
from bot.cli import parse_one
from bot.model.batch_plan import usable_cores
from bot.model.prediction import OOS

from . import PROG
from .arguments import TrainArguments, as_dataclass, dataclass_parser
from .calibrate import calibrate
from .counterfactual_augment import augmented_dataset
from .data import (
    EmotionData,
    IntentData,
    check_intent_counts,
    intent_examples,
    load_emotion_data,
    load_intent_data,
    split_validation,
    validation_share,
)
from .lexical_fit import fit_lexical_head
from .loop import fit, log
from .mood_fit import fit_mood_head
from .oos_fit import fit_oos_detector
from .spelling_fit import spelling_for


def load_intents(args: TrainArguments, extra: list[IntentData] = ()):
    """Training and validation intent examples (validation None: none held out) from every --intent-data
    source and the ``extra`` ones already in memory, plus their fingerprints."""
    sources = [load_intent_data(path) for path in args.intent_data] + list(extra)
    train = concatenate_datasets([s.train for s in sources])
    check_intent_counts(train, ", ".join(s.source for s in sources))
    given = [s.validation for s in sources if s.validation is not None]
    fraction = validation_share(args.validation_fraction, list(train["intent"]))
    if given:
        validation = concatenate_datasets(given)
    elif fraction > 0:
        train, validation = split_validation(train, fraction, args.seed)
    else:
        validation = None
        log("training on every example (no validation split; --validation-fraction 0.1 holds 10% out for "
            "intent validation metrics)")
    if validation is not None:
        known = set(list(train["intent"]))
        unknown = sorted(set(list(validation["intent"])) - known)
        if unknown:
            log(f"validation intents not in training data are ignored: {unknown[:10]}")
            validation = validation.filter(lambda row: row["intent"] in known)
    fingerprints = [{"kind": "intent", "source": s.source, "rows": len(s.train), "sha256": s.fingerprint}
                    for s in sources]
    return train, validation, fingerprints


QUICK_STEPS = 50   # runs shorter than this are smoke tests: they skip the slow upset head


def build_model(args: TrainArguments, intent_labels: list[str], emotions: EmotionData | None) -> HelplineModel:
    if args.init_from is None:
        return HelplineModel.from_base(args.base_model, intent_labels, emotions.labels, args.max_length)
    model = HelplineModel.from_pretrained(args.init_from, backend="torch")
    model.lexical = None  # refitted on this training data (after the encoder) when --lexical-head is on
    model.update_metadata(lexical=None)
    if emotions is not None and emotions.labels != model.emotion_labels:
        raise ValueError(f"--emotion-data labels {emotions.labels[:5]}... differ from the emotion labels of "
                         f"{args.init_from}; use the same label set.")
    old = model.intent_labels
    labels = old + [label for label in intent_labels if label not in old]
    if labels != old:  # new intents get new rows; known intents keep theirs
        head = model.network.intent_head
        new = torch.nn.Linear(head.in_features, len(labels))
        with torch.no_grad():
            new.weight[: len(old)] = head.weight
            new.bias[: len(old)] = head.bias
        model.network.intent_head = new
        log(f"extending the intent head from {args.init_from} with {len(labels) - len(old)} new intent(s)")
    model.update_metadata(intent_labels=labels)
    return model


def train(args: TrainArguments, examples: list[tuple[str, str]] | None = None,
          rated: list[tuple[dict, int]] | None = None) -> HelplineModel:
    """Train, calibrate, save (and export) a model. ``examples``: (text, intent) pairs in memory, trained on
    beside the --intent-data sources. ``rated``: (conversation, CSAT) pairs the mood head learns from."""
    torch.set_num_threads(usable_cores())   # the cores this process may use, not all the machine has
    torch.manual_seed(args.seed)  # the heads' initialisation too: a run must not depend on what ran before it
    started = time.time()
    train_data, validation, fingerprints = load_intents(args, [intent_examples(examples)] if examples else [])
    as_written = list(train_data["text"])
    # validation keeps the data as written
    train_data = augmented_dataset(train_data, "intent", args.counterfactual_share, args.seed, args.slip_share)
    emotions = load_emotion_data(args.emotion_data) if args.emotion_data else None
    if emotions is not None:
        fingerprints.append({"kind": "emotion", "source": emotions.source,
                             "rows": len(emotions.train) if emotions.train is not None else 0,
                             "sha256": emotions.fingerprint})
    labels = sorted(set(list(train_data["intent"])) - {OOS})
    labels += [OOS] if OOS in set(list(train_data["intent"])) else []
    emotion_texts = emotions.train_texts if emotions is not None else []
    model = build_model(args, labels, emotions)
    # the corrector learns the words as written (not the slipped copies'); serving corrects every message with it
    model.spelling = spelling_for(model, as_written, emotion_texts) if args.spelling else None
    upset_head = args.upset_head and not 0 < args.max_steps < QUICK_STEPS
    if args.upset_head and not upset_head:   # its fit reads every real customer text: the slow part of a short run
        log(f"quick run (--max-steps under {QUICK_STEPS}): no upset head; fit one later with `python -m finetune "
            f"upset --model {args.output}`")
    upset = None
    if upset_head and args.upset_examples_per_epoch > 0:
        from .environment import data_dir
        from .upset_fit import upset_task_data

        upset = upset_task_data(Path(data_dir()), restricted=not args.without_restricted_data)
        if upset is None:
            log("upset task skipped: no real customer tweets under HELPLINE_DATA/customer_sentiment")
    throughput = fit(model, train_data, emotions, args, upset)
    if args.lexical_head:
        log(fit_lexical_head(model, train_data, validation, args.lexical_weight))
    metrics = calibrate(model, validation, emotions, args)
    log(fit_oos_detector(model, train_data, validation, args.oos_target_recall, args.oos_method, args.seed,
                         args.oos_max_accuracy_drop, emotion_texts))
    if args.mood_head:   # after calibration: it reads the decoded predictions (thresholds, sentiment groups)
        log(fit_mood_head(model, emotions, seed=args.seed, rated=rated))
    log("validation: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
        + f" (oos threshold {model.metadata['oos_threshold']:.2f})")
    version = time.strftime("%Y%m%d-%H%M%S")
    model.update_metadata(
        model_version=f"{os.path.basename(os.path.normpath(args.output))}-{version}",
        metrics={"validation": metrics},
        training={"data": fingerprints, "arguments": asdict(args), **throughput,
                  "wall_seconds": round(time.time() - started, 1), "torch_threads": torch.get_num_threads()},
    )
    model.metadata.pop("created", None)
    model.to("cpu")   # a GPU-trained model is saved, exported and served from the CPU
    path = model.save_pretrained(args.output)
    log(f"saved model {model.version} to {path} in {time.time() - started:.0f} s")
    if args.export_onnx:
        from .export import calibration_sample, export_onnx

        # the int8 graph's activation ranges are measured on what the model will read: a sample of its data
        export_onnx(model, path, calibration_texts=calibration_sample(list(train_data["text"]) + emotion_texts,
                                                                      args.seed))
    if upset_head:   # read through the saved model as serving reads it (the int8 graph where exported)
        from .upset_fit import fit_upset_head

        log(fit_upset_head(str(path), emotions, restricted=not args.without_restricted_data, seed=args.seed))
    return model


def add_parser(subparsers, name: str, help: str | None):
    parser = dataclass_parser(subparsers, name, help, "Fine-tune the intent + emotion model.", TrainArguments)
    parser.set_defaults(run=run)
    return parser


def run(args) -> HelplineModel:
    return train(as_dataclass(args, TrainArguments))


def parse(argv: list[str] | None) -> TrainArguments:
    return as_dataclass(parse_one(add_parser, "train", argv, PROG), TrainArguments)


def main(argv: list[str] | None = None) -> HelplineModel:
    return train(parse(argv))
