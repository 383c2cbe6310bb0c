"""`python -m finetune retrain`: learn from new conversation transcripts (and the Helpline database).

Labels come from, in this order of trust: agent corrections (--from-store), per-message `intent` labels, labelled
datasets given with --intent-data (e.g. the catalogue, so known intents are replayed), a conversation's `tags`
mapped to an intent for its opening customer message (--tag-map, or the tag itself), and,
only when asked (--pseudo-label-threshold), confident predictions of the current model. Texts are redacted,
exact duplicates and messages that are empty once redacted are dropped, and conflicts (one text, two labels)
are resolved by the more trusted source, then by majority, else dropped; all of it is reported. Training then
continues from the serving model (or the base encoder) with GoEmotions replayed, so the emotion head keeps
its skill while the intent head learns the new data (new intents extend the label set).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.batch.transcripts import opening_message, read_transcripts
from bot.cli import parse_one
from bot.model.format import METADATA_FILE, write_metadata
from bot.model.prediction import OOS
from bot.redact import PLACEHOLDERS, redact

from . import PROG
from .arguments import TrainArguments, as_dataclass, dataclass_parser

# Continuing from a trained model, GoEmotions is replayed (not relearnt): fewer examples per epoch keep the
# emotion head where it was (measured in benchmarks/RESULTS.md) at a fraction of the time.
REPLAY_EMOTION_EXAMPLES = 6000
SOURCES = ("correction", "message_intent", "dataset", "tag", "pseudo")   # most trusted first


@dataclass
class RetrainArguments:
    transcripts: list[str] = field(default_factory=list, metadata={
        "help": "Transcript files (JSONL or CSV; the format: docs/transcripts.md)."})
    from_store: bool = field(default=False, metadata={
        "help": "Also learn from the Helpline database (HELPLINE_DB): agent label corrections, and stored "
                "customer messages for pseudo-labels."})
    db: str | None = field(default=None, metadata={"help": "SQLAlchemy URL for --from-store (default HELPLINE_DB)."})
    tag_map: str | None = field(default=None, metadata={
        "help": "YAML/JSON mapping of conversation tags to intents (unmapped tags are used as they are; map a "
                "tag to null to ignore it)."})
    pseudo_label_threshold: float | None = field(default=None, metadata={
        "help": "Label otherwise unlabelled customer messages with the current model's prediction when its "
                "confidence is at least this (off by default)."})
    min_examples: int = field(default=3, metadata={"help": "Drop intents with fewer examples than this."})
    csat_labels: bool = field(default=True, metadata={
        "help": "With --from-store: the customers' CSAT ratings teach the mood head (a 1-2 rating marks the "
                "conversation's most frustrated message upset, 4-5 marks its messages calm)."})


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def empty_once_redacted(text: str) -> bool:
    rest = text
    for placeholder in PLACEHOLDERS:
        rest = rest.replace(placeholder, " ")
    return not re.search(r"\w", rest)


def load_tag_map(path: str | None) -> dict:
    if not path:
        return {}
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"--tag-map {path}: expected a mapping of tag -> intent")
    return raw


def transcript_examples(paths: list[str], tag_map: dict) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(text, intent, source) from transcripts, and the unlabelled customer texts (for pseudo-labels)."""
    labelled, unlabelled = [], []
    for path in paths:
        for conversation in read_transcripts(path):
            customer = [m for m in conversation["messages"] if m["role"] == "customer"]
            tags = [tag_map.get(t, t) for t in conversation.get("tags") or []]
            tags = [t for t in tags if t]
            # the opening message (the first that is not "hello") states why the customer came
            opening = opening_message(conversation) if len(tags) == 1 else None
            for message in customer:
                if message.get("intent"):
                    labelled.append((message["text"], message["intent"], "message_intent"))
                elif opening is not None and message["text"] == opening:
                    labelled.append((message["text"], tags[0], "tag"))
                    opening = None
                else:
                    unlabelled.append(message["text"])
    return labelled, unlabelled


def store_examples(db: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    from bot.store.conversations import Store

    store = Store(db)
    corrections = [(text, intent, "correction") for text, intent in store.label_corrections()]
    texts = [m.text for m in store.all_customer_messages()]
    return corrections, texts


def pseudo_labels(model_dir: str, texts: list[str], threshold: float) -> list[tuple[str, str, str]]:
    from bot.model.helpline_model import HelplineModel

    classifier = HelplineModel.from_pretrained(model_dir)
    predictions = classifier.predict(texts) if texts else []
    return [(p.text, p.intent, "pseudo") for p in predictions if p.intent != OOS and p.confidence >= threshold]


@dataclass
class Collected:
    pairs: list[tuple[str, str]]
    report: dict


def resolve(examples: list[tuple[str, str, str]], min_examples: int) -> Collected:
    """Redact, drop empties and duplicates, resolve conflicts; (text, intent) pairs and what happened."""
    by_source = Counter(source for _, _, source in examples)
    empties = 0
    groups: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for text, intent, source in examples:
        clean = redact(text.strip())
        if not clean or empty_once_redacted(clean):
            empties += 1
            continue
        groups[normalise(clean)].append((clean, intent, source))
    duplicates = sum(len(g) - 1 for g in groups.values())
    pairs, conflicts, dropped_conflicts = [], [], 0
    for group in groups.values():
        labels = {intent for _, intent, _ in group}
        if len(labels) == 1:
            pairs.append((group[0][0], group[0][1]))
            continue
        best = min(SOURCES.index(source) for _, _, source in group)
        votes = Counter(intent for _, intent, source in group if SOURCES.index(source) == best).most_common()
        winner = votes[0][0] if len(votes) == 1 or votes[0][1] > votes[1][1] else None
        conflicts.append({"text": group[0][0], "labels": sorted(labels), "kept": winner})
        if winner is None:
            dropped_conflicts += 1
        else:
            pairs.append((group[0][0], winner))
    counts = Counter(intent for _, intent in pairs)
    rare = {intent for intent, n in counts.items() if n < min_examples}
    pairs = [(t, i) for t, i in pairs if i not in rare]
    report = {"examples_by_source": dict(by_source), "dropped_empty_after_redaction": empties,
              "dropped_duplicates": duplicates, "conflicts": len(conflicts),
              "dropped_unresolved_conflicts": dropped_conflicts, "conflict_examples": conflicts[:10],
              "dropped_rare_intents": sorted(rare), "examples": len(pairs),
              "examples_by_intent": dict(Counter(i for _, i in pairs).most_common())}
    return Collected(pairs, report)


def print_report(report: dict) -> None:
    out = sys.stderr
    print("learning from:", ", ".join(f"{n} {s}" for s, n in report["examples_by_source"].items()), file=out)
    print(f"dropped: {report['dropped_duplicates']} exact duplicates, {report['dropped_empty_after_redaction']} "
          f"empty once redacted, {report['dropped_unresolved_conflicts']} unresolved conflicts, rare intents "
          f"{report['dropped_rare_intents'] or 'none'}", file=out)
    print(f"conflicts (same text, two labels): {report['conflicts']}", file=out)
    for c in report["conflict_examples"][:5]:
        print(f"  {c['text'][:60]!r}: {c['labels']} -> {c['kept'] or 'dropped'}", file=out)
    print(f"{report['examples']} examples in {len(report['examples_by_intent'])} intents:", file=out)
    for intent, n in list(report["examples_by_intent"].items())[:40]:
        print(f"  {intent:<36} {n}", file=out)


def serving_model() -> str | None:
    from bot.registry.versions import resolve_model_dir

    from .environment import model_dir

    try:
        path = resolve_model_dir(model_dir())
    except ValueError:
        return None
    return str(path) if (path / METADATA_FILE).is_file() else None


def add_parser(subparsers, name: str, help: str | None):
    parser = dataclass_parser(subparsers, name, help, __doc__.splitlines()[0], RetrainArguments, TrainArguments)
    # Flags left out stay out of the parsed namespace: what was given decides (the serving model as --init-from,
    # fewer replayed emotion examples), and the dataclasses' defaults fill the rest. The intent data is assembled
    # from transcripts and the store, so --intent-data is optional here (labelled datasets to replay).
    for action in parser._actions:
        if action.dest != "help":
            action.default, action.required = argparse.SUPPRESS, False
    parser.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None):
    return run(parse_one(add_parser, "retrain", argv, PROG))


def run(parsed):
    given = set(vars(parsed)) - {"command", "run"}
    if "output" not in given:
        raise ValueError("--output is required: the folder to write the retrained model to")
    retrain_args = as_dataclass(parsed, RetrainArguments)
    train_args = as_dataclass(parsed, TrainArguments, intent_data=getattr(parsed, "intent_data", []))
    if not retrain_args.transcripts and not retrain_args.from_store and not train_args.intent_data:
        raise ValueError("nothing to learn from: give --transcripts FILE ..., --from-store and/or --intent-data")
    if "init_from" not in given:
        train_args.init_from = serving_model()
        if train_args.init_from:
            print(f"continuing from the serving model {train_args.init_from}", file=sys.stderr)
    from .arguments import default_emotion_data
    if train_args.init_from and "emotion_examples_per_epoch" not in given:
        train_args.emotion_examples_per_epoch = REPLAY_EMOTION_EXAMPLES
    if train_args.emotion_data is None:  # replay GoEmotions so the emotion head does not forget
        train_args.emotion_data = default_emotion_data()
    examples, unlabelled = transcript_examples(retrain_args.transcripts, load_tag_map(retrain_args.tag_map))
    rated = None
    from .data import load_intent_data

    for source in train_args.intent_data:
        data = load_intent_data(source).train
        examples += [(t, i, "dataset") for t, i in zip(data["text"], data["intent"])]
    if retrain_args.from_store:
        from .environment import database

        corrections, stored = store_examples(retrain_args.db or database())
        examples, unlabelled = corrections + examples, unlabelled + stored
        if retrain_args.csat_labels:
            from bot.store.conversations import Store

            rated = Store(retrain_args.db or database()).rated_conversations()
            print(f"{len(rated)} conversations rated by their customers (CSAT) for the mood head", file=sys.stderr)
    if retrain_args.pseudo_label_threshold is not None:
        source = train_args.init_from or serving_model()
        if source is None:
            raise ValueError("--pseudo-label-threshold needs a current model (--init-from or HELPLINE_MODEL)")
        examples += pseudo_labels(source, unlabelled, retrain_args.pseudo_label_threshold)
    collected = resolve(examples, retrain_args.min_examples)
    print_report(collected.report)
    if len(collected.report["examples_by_intent"]) < 2:
        raise ValueError("fewer than two intents with enough examples: nothing to train an intent head on")
    from .train import train

    train_args.intent_data = []  # the replayed datasets are in collected.pairs already
    model = train(train_args, collected.pairs, rated)
    model.update_metadata(retrain_report={k: v for k, v in collected.report.items() if k != "conflict_examples"})
    # the weights (and the ONNX graph made from them) are saved already: only the metadata gains the report
    write_metadata(Path(train_args.output), model.metadata)
    (Path(train_args.output) / "retrain_report.json").write_text(json.dumps(collected.report, indent=2))
    return model
