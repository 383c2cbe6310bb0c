"""`python -m finetune register | promote | rollback | versions`: the model registry from the command line.

    register --model DIR [--registry R] [--intent-test F] [--emotion-test F] [--promote]
        copy a model into the registry as the next version, scored on the registry's fixed evaluation set
        (given with the first registration, reused after); --promote: then serve it if it passes the gate
    promote VERSION [--registry R] [--tolerance 0.01] [--force --reason "..."]
    rollback [--registry R]
    versions [--registry R]
The registry defaults to HELPLINE_MODEL when that is a registry, else models/registry.
"""
from __future__ import annotations

import getpass
import json
import shutil
from pathlib import Path

from bot import HelplineModel
from bot.cli import parse_one
from bot.registry.versions import DEFAULT_TOLERANCE, GATED_METRICS, Registry, is_registry
from finetune import PROG

from .environment import model_dir
from .evaluate import evaluate


def default_registry() -> str:
    model = model_dir()
    return model if is_registry(model) else "models/registry"


def audit_metrics(model_dir: str, questions_file: str) -> dict:
    """The counterfactual audit's worst cases for the registry's gate (finetune/counterfactual_audit.py)."""
    from bot.model.helpline_model import HelplineModel

    from .counterfactual_audit import load_terms, read_questions, run_audit

    result = run_audit(HelplineModel.from_pretrained(model_dir), read_questions(questions_file, AUDIT_QUESTIONS),
                       load_terms())
    return {"audit_flip_rate": result["worst_flip_rate"], "audit_frustration_gap": result["worst_frustration_gap"],
            "audit_negative_gap": result["worst_negative_gap"]}


AUDIT_QUESTIONS = 100


def register(registry: Registry, model_dir: str, intent_test: str | None, emotion_test: str | None,
             produced_by: str = "", audit_data: str | None = None) -> str:
    data = registry.read()
    evaluation = data.get("evaluation") or {}
    intent_test = intent_test or evaluation.get("intent_test")
    emotion_test = emotion_test or evaluation.get("emotion_test")
    audit_data = audit_data or evaluation.get("audit_data")
    if not intent_test and not emotion_test:
        raise ValueError("the registry has no evaluation set yet: give --intent-test FILE and/or --emotion-test "
                         "FILE with the first registration (they are kept and reused for every version)")
    model = HelplineModel.from_pretrained(model_dir, backend="torch")
    metrics = evaluate(model, intent_test, emotion_test)
    if audit_data:
        metrics.update(audit_metrics(model_dir, audit_data))
    version = registry.next_version()
    shutil.copytree(model_dir, registry.path_of(version))
    registry.add(version, {k: v for k, v in metrics.items() if isinstance(v, (int, float))},
                 data=model.metadata.get("training", {}).get("data", []),
                 produced_by=produced_by or f"{getpass.getuser()}: register {model_dir}",
                 details={"per_intent_f1": {k: round(v["f1"], 4) for k, v in metrics.get("per_intent", {}).items()},
                          "confused_pairs": metrics.get("confused_pairs", [])},
                 evaluation={"intent_test": intent_test, "emotion_test": emotion_test, "audit_data": audit_data})
    return version


def add_parser(subparsers, command: str, help: str | None):
    """register, promote, rollback and versions: one module, a parser each."""
    parser = subparsers.add_parser(command, help=help, description=__doc__.splitlines()[0])
    parser.add_argument("--registry", default=default_registry(), help="registry directory")
    if command == "register":
        parser.add_argument("--model", required=True, help="the model directory to add")
        parser.add_argument("--intent-test", help="intent test CSV (the first time; then kept)")
        parser.add_argument("--emotion-test", help="GoEmotions TSV (the first time; then kept)")
        parser.add_argument("--audit-data", help="questions (CSV with a text column) for the counterfactual audit "
                                                 "the gate also compares (the first time; then kept)")
        parser.add_argument("--promote", action="store_true",
                            help="then serve it if it is no worse than the serving version (the gate of promote); "
                                 "a version the gate refuses stays registered and the serving one keeps serving")
    if command == "promote":
        parser.add_argument("version")
        parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                            help=f"largest allowed drop on {', '.join(GATED_METRICS)}")
        parser.add_argument("--force", action="store_true", help="promote even when worse (needs --reason)")
        parser.add_argument("--reason", default="", help="why (recorded in the history)")
    parser.set_defaults(run=run)
    return parser


def main(command: str, argv: list[str] | None = None) -> None:
    run(parse_one(add_parser, command, argv, PROG))


def run(args) -> None:
    command = args.command
    registry = Registry(args.registry)
    user = getpass.getuser()
    if command == "register":
        version = register(registry, args.model, args.intent_test, args.emotion_test, audit_data=args.audit_data)
        print(f"registered {version}: {json.dumps(registry.versions()[version]['metrics'])}")
        if args.promote and registry.serving != version:
            from bot.model.helpline_model import HelplineModel
            from bot.registry.versions import RegistryError

            try:
                registry.promote(version, by=user, validate=HelplineModel.from_pretrained)
            except RegistryError as exc:   # worse on the evaluation set: recorded, not served
                print(f"not promoted: {exc}")
        print(f"serving: {registry.serving}")
    elif command == "promote":
        from bot.model.helpline_model import HelplineModel  # the candidate must load as serving loads it

        event = registry.promote(args.version, tolerance=args.tolerance, force=args.force, reason=args.reason, by=user,
                                 validate=HelplineModel.from_pretrained)
        print(f"{args.version} now serves (was {event['previous']})"
              + (f"; forced despite: {'; '.join(event['regressions'])}" if event["forced"] else ""))
    elif command == "rollback":
        event = registry.rollback(by=user)
        print(f"rolled back: {event['version']} serves again (was {event['previous']})")
    else:
        data = registry.read()
        for version, entry in sorted(data["versions"].items(), key=lambda kv: int(kv[0][1:])):
            marker = "*" if version == data["serving"] else " "
            metrics = ", ".join(f"{k} {entry['metrics'][k]:.4f}" for k in GATED_METRICS if k in entry["metrics"])
            print(f"{marker} {version}  {entry['created']}  {metrics}  ({entry['produced_by']})")
        if not data["versions"]:
            print(f"no versions in {Path(args.registry)}")
