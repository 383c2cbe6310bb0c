"""Fitting a model's spelling corrector (bot/model/spelling.py): the words of its training messages.

    python -m finetune spelling --model DIR --intent-data FILE [FILE ...] [--emotion-data DIR]

`finetune train` fits it on its own training data; this command adds it to (or refits it for) an existing model
directory, from the same intent (and emotion) data the model was trained on, without training anything.
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from bot.cli import parse_one
from bot.model.spelling import Spelling
from finetune import PROG


def spelling_for(model, texts: list[str], other_texts: list[str] = ()) -> Spelling:
    """The corrector of ``model`` (its tokenizer's whole words and those of ``other_texts``, its emotion training
    texts, are known words) for these training messages, with the words of the corrector it already has (a model
    trained on from another keeps what it knew)."""
    spelling = Spelling.build(texts, model.vocabulary(), other_texts)
    if model.spelling is None:
        return spelling
    return Spelling(Counter(spelling.counts) + Counter(model.spelling.counts), spelling.known)


def fit_spelling(model_dir: str, sources: list[str], emotion_data: str | None = None) -> str:
    from bot.model.components import save_refitted
    from bot.model.helpline_model import HelplineModel

    from .data import load_emotion_data, load_intent_data

    texts = [t for source in sources for t in load_intent_data(source).train["text"]]
    emotion_texts = load_emotion_data(emotion_data).train_texts if emotion_data else []
    model = HelplineModel.from_pretrained(model_dir)
    model.spelling = None   # refitted from these sources alone
    model.spelling = spelling_for(model, texts, emotion_texts)
    save_refitted(model, Path(model_dir), "spelling")
    return (f"spelling: {len(model.spelling.counts)} training words to correct a slip to, "
            f"{len(model.spelling.known)} known words in all")


def add_parser(subparsers, name: str, help: str | None):
    parser = subparsers.add_parser(name, help=help, description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument("--intent-data", nargs="+", required=True,
                        help="the intent data the model was trained on (any format `finetune train` reads)")
    parser.add_argument("--emotion-data", default=None,
                        help="the emotion data it was trained on (GoEmotions folder): its words are read as written")
    parser.set_defaults(run=run)
    return parser


def run(args) -> None:
    print(fit_spelling(args.model, args.intent_data, args.emotion_data), file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    return run(parse_one(add_parser, "spelling", argv, PROG))
