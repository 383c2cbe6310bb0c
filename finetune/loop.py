"""The training loop: each epoch draws batches of both tasks (intents, emotions), shuffles them, and takes one
optimiser step per batch, each batch one task, both heads on the shared encoder."""
from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from bot import HelplineModel

from .arguments import TrainArguments
from .batching import bucket_batches, epoch_sample, pad_batch
from .data import EmotionData
from .device import training_device
from .frozen_layers import FrozenLayers
from .losses import emotion_loss, emotion_positive_weights, intent_loss
from .metrics import multi_hot
from .probe import linear_probe


def log(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def report_progress(path: str | None, phase: str, step: int, total: int) -> None:
    """For a console showing a background retrain: {"phase", "step", "total"} in a small JSON file."""
    if path:
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump({"phase": phase, "step": step, "total": total}, handle)
        os.replace(tmp, path)


@dataclass
class Task:
    """One task's examples as token ids with their targets, and how many of them an epoch draws."""
    ids: list[list[int]]
    targets: object               # intent indices (list) or emotion multi-hot rows (array)
    per_epoch: int
    cursor: list[int] = field(default_factory=list)  # what epoch_sample has not drawn yet

    @property
    def lengths(self) -> list[int]:
        return [len(x) for x in self.ids]


def encode_tasks(model: HelplineModel, train, emotions: EmotionData | None, args: TrainArguments,
                 upset: tuple[list[str], list[int]] | None = None) -> dict[str, Task]:
    def ids(texts) -> list[list[int]]:
        return model.tokenizer(list(texts), truncation=True, max_length=args.max_length)["input_ids"]

    label_index = {label: i for i, label in enumerate(model.intent_labels)}
    intent = Task(ids(train["text"]), [label_index[label] for label in list(train["intent"])], 0)
    intent.per_epoch = max(len(intent.ids), args.min_task_examples)
    tasks = {"intent": intent}
    if emotions is not None and emotions.train is not None:
        emotion = Task(ids(emotions.train["text"]),
                       multi_hot(list(emotions.train["labels"]), len(model.emotion_labels)), 0)
        emotion.per_epoch = max(args.emotion_examples_per_epoch, args.min_task_examples) if emotion.ids else 0
        tasks["emotion"] = emotion
    if upset is not None and upset[0] and args.upset_examples_per_epoch > 0:
        tasks["upset"] = Task(ids(upset[0]), np.asarray(upset[1], dtype=np.float32),
                              min(args.upset_examples_per_epoch, len(upset[0])))
    return tasks


def epoch_plan(tasks: dict[str, Task], batch_size: int, rng: random.Random) -> list[tuple[str, list[int]]]:
    """An epoch's (task, batch of indices), shuffled: each task's draw bucketed into batches of similar lengths."""
    plan = []
    for name, task in tasks.items():
        if task.per_epoch:
            drawn = epoch_sample(len(task.ids), task.per_epoch, rng, task.cursor)
            plan += [(name, batch) for batch in bucket_batches(drawn, task.lengths, batch_size, rng)]
    rng.shuffle(plan)
    return plan


def make_optimizer(model: HelplineModel, args: TrainArguments, total_steps: int, extra_heads=()):
    if args.freeze_word_embeddings:
        model.network.encoder.get_input_embeddings().weight.requires_grad_(False)
    groups: dict[tuple[float, float], list] = {}
    for name, param in model.network.named_parameters():
        if not param.requires_grad:
            continue
        if name.startswith(("intent_head", "emotion_head")):
            lr, decay = args.head_learning_rate, 0.0
        else:
            no_decay = "bias" in name or "LayerNorm" in name or "layer_norm" in name
            lr, decay = args.learning_rate, 0.0 if no_decay else args.weight_decay
        groups.setdefault((lr, decay), []).append(param)
    for head in extra_heads:
        groups.setdefault((args.head_learning_rate, 0.0), []).extend(head.parameters())
    # fused: one kernel for all ~100 tensors; on CPU the default updates them one by one, several times slower
    optimizer = torch.optim.AdamW([{"params": params, "lr": lr, "weight_decay": decay}
                                   for (lr, decay), params in groups.items()], fused=True)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(args.warmup_ratio * total_steps), total_steps)
    return optimizer, scheduler


class Step:
    """One optimiser step on one batch of one task; returns the batch's loss."""

    def __init__(self, model: HelplineModel, tasks: dict[str, Task], args: TrainArguments, total: int):
        self.model, self.tasks, self.args = model, tasks, args
        self.pad_id = model.tokenizer.pad_token_id or 0
        self.device = training_device(args.device, args.bf16)
        self.frozen = FrozenLayers(model.network, args.frozen_layers, self.pad_id) if args.frozen_layers else None
        # the upset task's head is thrown away after training: the upset head (bot/model/upset.py) is fitted
        # afterwards on what serving computes, and the model directory's format stays as it is
        self.upset_head = torch.nn.Linear(model.network.intent_head.in_features, 1).to(self.device.type) \
            if "upset" in tasks else None
        self.optimizer, self.scheduler = make_optimizer(model, args, total,
                                                        [self.upset_head] if self.upset_head is not None else [])
        emotion = tasks.get("emotion")
        weight = emotion_positive_weights(emotion.targets, args.emotion_positive_weight) if emotion else None
        self.positive_weight = weight.to(self.device.type) if weight is not None else None
        self.cache = {}

    def precompute_frozen(self) -> None:
        """With frozen layers: their output for every example, once (the layers never change)."""
        if self.frozen is not None:
            self.cache = {name: self.frozen.precompute(task.ids, self.device, name) if task.per_epoch else []
                          for name, task in self.tasks.items()}

    def inputs(self, task: str, batch: list[int], copies: int) -> dict:
        sequences = [self.tasks[task].ids[i] for i in batch] * copies
        if self.frozen is None:
            return self.device.put(pad_batch(sequences, self.pad_id))
        return self.frozen.batch(sequences, [self.cache[task][i] for i in batch] * copies, self.device)

    def __call__(self, task: str, batch: list[int]) -> float:
        args = self.args
        copies = 2 if task == "intent" and args.rdrop_alpha > 0 else 1  # R-Drop: two dropout masks each
        targets, where = self.tasks[task].targets, self.device.type
        if task == "upset":
            network = self.model.network
            with self.device.autocast():
                logits = self.upset_head(network.dropout(network.embed(**self.inputs(task, batch, 1)))).squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits.float(), torch.from_numpy(targets[batch]).to(where))
            return self.update(loss)
        with self.device.autocast():
            intent_logits, emotion_logits = self.model.network(**self.inputs(task, batch, copies))
        if task == "intent":
            loss = intent_loss(intent_logits, torch.tensor([targets[i] for i in batch], device=where),
                               args.label_smoothing, args.rdrop_alpha)
        else:
            loss = emotion_loss(emotion_logits, torch.from_numpy(targets[batch]).to(where), args.emotion_loss_weight,
                                self.positive_weight)
        return self.update(loss)

    def update(self, loss: torch.Tensor) -> float:
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.network.parameters(), 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.item()


def fit(model: HelplineModel, train, emotions: EmotionData | None, args: TrainArguments,
        upset: tuple[list[str], list[int]] | None = None) -> dict:
    """Train ``model`` in place. ``upset``: (texts, 0/1 labels) of the optional upset task. Returns throughput
    figures for the model's metadata."""
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    tasks = encode_tasks(model, train, emotions, args, upset)
    steps_per_epoch = sum(math.ceil(task.per_epoch / args.batch_size) for task in tasks.values())
    total = args.max_steps if args.max_steps > 0 else steps_per_epoch * args.epochs
    device = training_device(args.device, args.bf16)
    model.to(device.type)   # before the optimiser is made: fused AdamW keeps its state beside the weights
    step_once = Step(model, tasks, args, total)
    intent, emotion = tasks["intent"], tasks.get("emotion")
    log(f"training {total} steps {device.describe()}: {len(intent.ids)} intent examples "
        f"({len(model.intent_labels)} intents), {len(emotion.ids) if emotion else 0} emotion examples; per epoch "
        f"{intent.per_epoch} intent + {emotion.per_epoch if emotion else 0} emotion examples"
        + (f" + {tasks['upset'].per_epoch} upset examples (of {len(tasks['upset'].ids)})" if "upset" in tasks else ""))
    if args.linear_probe and args.init_from is None:  # a model we start from already has a trained head
        linear_probe(model, intent.ids, intent.targets, args, device)
    step_once.precompute_frozen()
    model.network.train()
    step, seen, started = 0, 0, time.time()
    losses: dict[str, list[float]] = {name: [] for name in tasks}
    frozen = step_once.frozen
    with tqdm(total=total, desc="training", unit="step", file=sys.stderr) as bar, \
            (frozen.skipping() if frozen is not None else nullcontext()):
        while step < total:
            for task, batch in epoch_plan(tasks, args.batch_size, rng)[:total - step]:
                losses[task].append(step_once(task, batch))
                step, seen = step + 1, seen + len(batch)
                bar.update(1)
                if step % 20 == 0 or step == total:
                    bar.set_postfix({k: f"{np.mean(v[-50:]):.3f}" for k, v in losses.items() if v})
                    report_progress(args.progress_file, "training", step, total)
            log(f"step {step}/{total}: "
                + "".join(f"{name} loss {np.mean(values[-200:] or [0]):.4f}, " for name, values in losses.items())
                + f"{seen / (time.time() - started):.0f} examples/s")
    model.network.eval()
    seconds = time.time() - started
    return {"steps": step, "examples": seen, "seconds": round(seconds, 1),
            "examples_per_second": round(seen / max(seconds, 1e-9), 1), "device": device.type}
