"""`python -m finetune download`: fetch the extra labelled customer text listed in finetune/extra_data.yaml into
HELPLINE_DATA (or --output), each file checked against its sha256 before it is kept.

    python -m finetune download [--only NAME ...] [--output DIR] [--list]

A file whose hash differs is deleted and named in the error (a changed upstream file, or a broken download);
one already there with the right hash is not fetched again. Needs the network (HELPLINE_ONLINE is not needed:
this command exists to go online), unlike everything else in Helpline.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

import yaml

from bot.cli import parse_one
from finetune import PROG

from .environment import data_dir

MANIFEST = Path(__file__).parent / "extra_data.yaml"
MANIFEST_VERSION = 1


def load_manifest(path: Path = MANIFEST) -> list[dict]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format_version") != MANIFEST_VERSION:
        raise ValueError(f"{path}: expected format_version {MANIFEST_VERSION}")
    sources = data.get("sources") or []
    for i, source in enumerate(sources):
        missing = {"name", "url", "file", "sha256", "licence"} - set(source or {})
        if missing:
            raise ValueError(f"{path}: source {i} lacks {', '.join(sorted(missing))}")
    return sources


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(source: dict, output: Path, opener=urllib.request.urlopen) -> Path:
    """The source's file under ``output``, downloaded unless it is there with the right hash; ValueError (and no
    file kept) when the download's hash is not the manifest's."""
    target = output / source["file"]
    if target.is_file() and sha256_of(target) == source["sha256"]:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
        with opener(source["url"]) as response:
            shutil.copyfileobj(response, partial)
    got = sha256_of(Path(partial.name))
    if got != source["sha256"]:
        os.unlink(partial.name)
        raise ValueError(f"{source['name']}: {source['url']} has sha256 {got}, not {source['sha256']} as "
                         "finetune/extra_data.yaml says; nothing was kept (the file changed upstream, or the "
                         "download broke: try again, and check the source before you update the hash)")
    os.replace(partial.name, target)
    return target


def add_parser(subparsers, name: str, help: str | None):
    parser = subparsers.add_parser(name, help=help, description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", metavar="NAME", help="fetch these sources only")
    parser.add_argument("--output", default=data_dir(),
                        help="folder the files go under (default HELPLINE_DATA)")
    parser.add_argument("--list", action="store_true", help="list the sources with their licences and stop")
    parser.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> None:
    return run(parse_one(add_parser, "download", argv, PROG))


def run(args) -> None:
    sources = load_manifest()
    unknown = set(args.only or []) - {s["name"] for s in sources}
    if unknown:
        raise ValueError(f"no source named {', '.join(sorted(unknown))}; `--list` shows them")
    for source in sources:
        if args.list:
            print(f"{source['name']}: {source['licence']}\n  {' '.join(source.get('what', '').split())}")
        elif not args.only or source["name"] in args.only:
            print(f"{source['name']}: {fetch(source, Path(args.output))} (sha256 checked; licence: "
                  f"{source['licence']})", file=sys.stderr)
