"""`python -m bot suggest --transcripts HISTORY... --for FILE --output OUT.jsonl [--k 3] [--model DIR]`: one JSON
line {"conversation_id", "index", "suggestions"} per agent message of FILE, from only the messages before it."""
from __future__ import annotations

import json
import sys

from bot.cli import add_model_flags


def add_parser(subparsers, name: str, help: str | None):
    parser = subparsers.add_parser(name, help=help, description=__doc__)
    add_model_flags(parser)
    parser.add_argument("--transcripts", nargs="+", required=True, metavar="HISTORY",
                        help="transcripts whose agent replies are suggested (JSONL or CSV; docs/transcripts.md)")
    parser.add_argument("--for", dest="for_file", required=True, metavar="FILE",
                        help="transcripts to suggest for: every agent message gets suggestions from what came "
                             "before it")
    parser.add_argument("--output", required=True, metavar="OUT.jsonl", help="one JSON line per agent message")
    parser.add_argument("--k", type=int, default=3, help="suggestions per message")
    parser.add_argument("--catalogue", default=None, help="intent catalogue YAML whose replies are candidates too")
    parser.set_defaults(run=run)
    return parser


def run(args) -> int:
    """`python -m bot suggest`: the index from HISTORY, then suggestions for every agent message of FILE."""
    from bot.assist.suggest import SuggestionIndex, agent_turns
    from bot.batch.transcripts import iter_transcripts, read_transcripts
    from bot.model.helpline_model import HelplineModel

    if args.k < 1:
        raise ValueError(f"--k must be at least 1, not {args.k}")
    classifier = HelplineModel.from_pretrained(args.model, backend=args.backend)
    history = [c for path in args.transcripts for c in read_transcripts(path)]
    targets = list(iter_transcripts(args.for_file))   # validated before anything is written
    index = SuggestionIndex.build(history, encode=classifier.sentence_vectors, extra=catalogue_replies(args),
                                  progress=True)
    with open(args.output, "w", encoding="utf-8") as out:
        for conversation in targets:
            cases = list(agent_turns(conversation))
            contexts = [context for _, context, _ in cases]
            suggestions = index.suggest(contexts, k=args.k, intents=likely_intents(classifier, contexts))
            for (position, _, _), replies in zip(cases, suggestions):
                out.write(json.dumps({"conversation_id": str(conversation.get("id", "")), "index": position,
                                      "suggestions": replies}, ensure_ascii=False) + "\n")
    print(f"suggestions for {args.for_file} written to {args.output} ({len(index.templates)} reply templates "
          f"from {len(history)} conversations)", file=sys.stderr)
    return 0


def catalogue_replies(args) -> list[tuple[str, set[str]]]:
    """(reply, {intent}) for every intent of the catalogue and every canned response tagged with intents:
    candidates where the customer seems to want them (as in the console)."""
    from bot.assist.live import canned_path
    from bot.config import value
    from intents import DEFAULT_CATALOGUE, load_catalogue
    from intents.canned import load_canned

    # resolved from the package, not the working folder: the command works from anywhere
    catalogue = load_catalogue(args.catalogue or value("HELPLINE_CATALOGUE") or DEFAULT_CATALOGUE)
    replies = [(reply, {name}) for name, intent in catalogue.intents.items() for reply in intent.replies]
    canned = load_canned(canned_path()) if canned_path().is_file() else []
    return replies + [(r.text, set(r.intents)) for r in canned if r.intents]


def likely_intents(classifier, contexts) -> list[list[str]]:
    """Per context, the intents its last customer message may have (the model's alternatives above 0.3)."""
    asked = [i for i, c in enumerate(contexts) if c.last_customer.strip()]
    predictions = dict(zip(asked, classifier.predict([contexts[i].last_customer for i in asked]) if asked else []))
    return [[name for name, confidence in predictions[i].alternatives if confidence >= 0.3] if i in predictions else []
            for i in range(len(contexts))]
