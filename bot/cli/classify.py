"""`python -m bot classify [--model DIR] TEXT ... | --file FILE`: one JSON line per message (intent, emotions,
sentiment, frustration), batched, with a progress bar on stderr for long files."""
from __future__ import annotations

import json
import sys

from bot.cli import add_model_flags


def add_parser(subparsers, name: str, help: str | None):
    parser = subparsers.add_parser(name, help=help, description=__doc__)
    add_model_flags(parser)
    parser.add_argument("texts", nargs="*", help="messages to classify")
    parser.add_argument("--file", help="a text file with one message a line")
    parser.add_argument("--batch-size", type=int, default=64, help="messages per inference batch")
    parser.add_argument("--chunk", type=int, default=4096, help="messages read and written per step")
    parser.set_defaults(run=run)
    return parser


def run(args) -> int:
    from tqdm import tqdm

    from bot.model.helpline_model import HelplineModel

    if args.file:
        with open(args.file, encoding="utf-8") as handle:
            texts = [line.rstrip("\n") for line in handle]
    else:
        texts = args.texts
    if not texts:
        raise ValueError("nothing to classify: give messages as arguments or --file FILE (one message a line)")
    model = HelplineModel.from_pretrained(args.model, backend=args.backend)
    with tqdm(total=len(texts), unit="msg", file=sys.stderr, disable=len(texts) < 1000) as bar:
        for start in range(0, len(texts), args.chunk):
            chunk = texts[start:start + args.chunk]
            keep = [i for i, t in enumerate(chunk) if t.strip()]  # blank lines get a line too, with an error
            predictions = dict(zip(keep, model.predict([chunk[i] for i in keep], batch_size=args.batch_size)))
            for i, text in enumerate(chunk):
                p = predictions.get(i)
                row = {"text": text, "error": "empty message"} if p is None else {"text": text, **p.summary()}
                sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
            bar.update(len(chunk))
    return 0
