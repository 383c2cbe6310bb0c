"""`python -m finetune train`: fine-tune one encoder with an intent head and an emotion head, on CPU.

Batches alternate between the two tasks at random (each batch is one task), both heads share the encoder,
and after training the out-of-scope threshold and the per-emotion thresholds are tuned on validation data.
"""
from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict

import numpy as np
import torch
from datasets import concatenate_datasets
from tqdm.auto import tqdm
from transformers import HfArgumentParser, get_linear_schedule_with_warmup

from bot import HelplineModel
from bot.model.prediction import OOS

from .arguments import TrainArguments
from .batching import bucket_batches, epoch_sample, pad_batch
from .calibrate import calibrate
from .data import (
    EmotionData,
    check_intent_counts,
    load_emotion_data,
    load_intent_data,
    split_validation,
    validation_share,
)
from .frozen_layers import FrozenLayers
from .lexical_fit import fit_lexical_head
from .losses import emotion_loss, emotion_positive_weights, intent_loss
from .metrics import multi_hot
from .probe import linear_probe, use_bf16


def log(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def report_progress(path: str | None, phase: str, step: int, total: int) -> None:
    """For a console showing a background retrain: {"phase", "step", "total"} in a small JSON file."""
    if path:
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump({"phase": phase, "step": step, "total": total}, handle)
        os.replace(tmp, path)


def load_intents(args: TrainArguments):
    """Training and validation intent examples (validation None: none held out) from every --intent-data
    source, plus their fingerprints."""
    sources = [load_intent_data(path) for path in args.intent_data]
    train = concatenate_datasets([s.train for s in sources])
    check_intent_counts(train, ", ".join(args.intent_data))
    given = [s.validation for s in sources if s.validation is not None]
    fraction = validation_share(args.validation_fraction, list(train["intent"]))
    if given:
        validation = concatenate_datasets(given)
    elif fraction > 0:
        train, validation = split_validation(train, fraction, args.seed)
    elif args.oos_max_accuracy_drop > 0:
        raise ValueError("--oos-max-accuracy-drop needs validation data to measure the drop on: give "
                         "--validation-fraction above 0 (or data with a validation split).")
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


def build_model(args: TrainArguments, intent_labels: list[str], emotions: EmotionData | None) -> HelplineModel:
    if args.init_from is None:
        return HelplineModel.from_base(args.base_model, intent_labels, emotions.labels, args.max_length)
    model = HelplineModel.from_pretrained(args.init_from)
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


def make_optimizer(model: HelplineModel, args: TrainArguments, total_steps: int):
    if args.freeze_word_embeddings:
        model.network.encoder.get_input_embeddings().weight.requires_grad_(False)
    groups: dict[tuple[float, float], list] = {}
    for name, param in model.network.named_parameters():
        if not param.requires_grad:
            continue
        if name.startswith(("intent_head", "emotion_head")):
            lr, decay = args.head_learning_rate, 0.0
        else:
            lr = args.learning_rate
            no_decay = "bias" in name or "LayerNorm" in name or "layer_norm" in name
            decay = 0.0 if no_decay else args.weight_decay
        groups.setdefault((lr, decay), []).append(param)
    # fused: one kernel for all ~100 tensors; on CPU the default updates them one by one, several times slower
    optimizer = torch.optim.AdamW([{"params": params, "lr": lr, "weight_decay": decay}
                                   for (lr, decay), params in groups.items()], fused=True)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(args.warmup_ratio * total_steps), total_steps)
    return optimizer, scheduler


def fit(model: HelplineModel, train, emotions: EmotionData | None, args: TrainArguments) -> dict:
    """The training loop. Returns throughput figures for the model's metadata."""
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    tok = model.tokenizer
    label_index = {label: i for i, label in enumerate(model.intent_labels)}
    intent_ids = tok(list(train["text"]), truncation=True, max_length=args.max_length)["input_ids"]
    intent_y = [label_index[label] for label in list(train["intent"])]
    emotion_ids, emotion_y = [], None
    if emotions is not None and emotions.train is not None:
        emotion_ids = tok(list(emotions.train["text"]), truncation=True, max_length=args.max_length)["input_ids"]
        emotion_y = multi_hot(list(emotions.train["labels"]), len(model.emotion_labels))
    positive_weight = emotion_positive_weights(emotion_y, args.emotion_positive_weight) if emotion_y is not None else None
    intent_len = [len(x) for x in intent_ids]
    emotion_len = [len(x) for x in emotion_ids]

    n_intent = max(len(intent_ids), args.min_task_examples)
    n_emotion = max(args.emotion_examples_per_epoch, args.min_task_examples) if emotion_ids else 0
    steps_per_epoch = math.ceil(n_intent / args.batch_size) + math.ceil(n_emotion / args.batch_size)
    total = args.max_steps if args.max_steps > 0 else steps_per_epoch * args.epochs
    pad_id = tok.pad_token_id or 0
    frozen = FrozenLayers(model.network, args.frozen_layers, pad_id) if args.frozen_layers else None
    optimizer, scheduler = make_optimizer(model, args, total)
    bf16 = use_bf16(args)
    log(f"training {total} steps{' in bfloat16' if bf16 else ''}: {len(intent_ids)} intent examples "
        f"({len(label_index)} intents), {len(emotion_ids)} emotion examples; per epoch {n_intent} intent + "
        f"{n_emotion} emotion examples")
    if args.linear_probe and args.init_from is None:  # a model we start from already has a trained head
        linear_probe(model, intent_ids, intent_y, args)
    if frozen is not None:
        cache = {"intent": frozen.precompute(intent_ids, bf16, "intent"),
                 "emotion": frozen.precompute(emotion_ids, bf16, "emotion") if n_emotion else []}
    model.network.train()
    intent_cursor: list[int] = []
    emotion_cursor: list[int] = []
    step, seen, started = 0, 0, time.time()
    losses = {"intent": [], "emotion": []}
    with tqdm(total=total, desc="training", unit="step", file=sys.stderr) as bar, \
            (frozen.skipping() if frozen is not None else nullcontext()):
        while step < total:
            plan = [("intent", b) for b in bucket_batches(
                epoch_sample(len(intent_ids), n_intent, rng, intent_cursor), intent_len, args.batch_size, rng)]
            if n_emotion:
                plan += [("emotion", b) for b in bucket_batches(
                    epoch_sample(len(emotion_ids), n_emotion, rng, emotion_cursor), emotion_len,
                    args.batch_size, rng)]
            rng.shuffle(plan)
            for task, batch in plan:
                if step >= total:
                    break
                copies = 2 if task == "intent" and args.rdrop_alpha > 0 else 1  # R-Drop: two dropout masks each
                sequences = [(intent_ids if task == "intent" else emotion_ids)[i] for i in batch] * copies
                states = [cache[task][i] for i in batch] * copies if frozen is not None else None
                inputs = frozen.batch(sequences, states) if frozen is not None else pad_batch(sequences, pad_id)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    intent_logits, emotion_logits = model.network(**inputs)
                if task == "intent":
                    target = torch.tensor([intent_y[i] for i in batch])
                    loss = intent_loss(intent_logits, target, args.label_smoothing, args.rdrop_alpha)
                else:
                    loss = emotion_loss(emotion_logits, torch.from_numpy(emotion_y[batch]), args.emotion_loss_weight,
                                        positive_weight)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.network.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                losses[task].append(loss.item())
                step += 1
                seen += len(batch)
                bar.update(1)
                if step % 20 == 0 or step == total:
                    bar.set_postfix({k: f"{np.mean(v[-50:]):.3f}" for k, v in losses.items() if v})
                    report_progress(args.progress_file, "training", step, total)
            log(f"step {step}/{total}: intent loss {np.mean(losses['intent'][-200:] or [0]):.4f}, "
                f"emotion loss {np.mean(losses['emotion'][-200:] or [0]):.4f}, "
                f"{seen / (time.time() - started):.0f} examples/s")
    model.network.eval()
    seconds = time.time() - started
    return {"steps": step, "examples": seen, "seconds": round(seconds, 1),
            "examples_per_second": round(seen / max(seconds, 1e-9), 1)}


def train(args: TrainArguments) -> HelplineModel:
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    torch.manual_seed(args.seed)  # the heads' initialisation too: a run must not depend on what ran before it
    started = time.time()
    train_data, validation, fingerprints = load_intents(args)
    emotions = load_emotion_data(args.emotion_data) if args.emotion_data else None
    if emotions is not None:
        fingerprints.append({"kind": "emotion", "source": emotions.source,
                             "rows": len(emotions.train) if emotions.train is not None else 0,
                             "sha256": emotions.fingerprint})
    labels = sorted(set(list(train_data["intent"])) - {OOS})
    labels += [OOS] if OOS in set(list(train_data["intent"])) else []
    model = build_model(args, labels, emotions)
    throughput = fit(model, train_data, emotions, args)
    if args.lexical_head:
        log(fit_lexical_head(model, train_data, validation, args.lexical_weight))
    metrics = calibrate(model, validation, emotions, args)
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
    path = model.save_pretrained(args.output)
    log(f"saved model {model.version} to {path} in {time.time() - started:.0f} s")
    if args.export_onnx:
        from .export import calibration_sample, export_onnx

        # the int8 graph's activation ranges are measured on what the model will read: a sample of its data
        texts = list(train_data["text"])
        texts += list(emotions.train["text"]) if emotions is not None and emotions.train is not None else []
        export_onnx(model, path, calibration_texts=calibration_sample(texts, args.seed))
    return model


def parse(argv: list[str] | None) -> TrainArguments:
    parser = HfArgumentParser(TrainArguments, prog="python -m finetune train",
                              description="Fine-tune the intent + emotion model.")
    (args,) = parser.parse_args_into_dataclasses(args=argv)
    return args


def main(argv: list[str] | None = None) -> HelplineModel:
    return train(parse(argv))
