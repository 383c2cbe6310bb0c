"""`python -m bot purge [--days N]`: delete conversations past retention and expired agent sessions (the app
also does it daily)."""
from __future__ import annotations

from bot.cli import add_db_flag, store_of
from bot.config import value


def add_parser(subparsers, name: str, help: str | None):
    parser = subparsers.add_parser(name, help=help, description=__doc__)
    parser.add_argument("--days", type=int, default=int(value("HELPLINE_RETENTION_DAYS")),
                        help="delete conversations not updated for this many days (env HELPLINE_RETENTION_DAYS; "
                             "0 keeps them)")
    add_db_flag(parser)
    parser.set_defaults(run=run)
    return parser


def run(args) -> int:
    from bot.store.retention import purge

    done = purge(store_of(args), args.days)
    print(f"deleted {done.conversations} conversations, {done.sessions} agent sessions, {done.receipts} turn "
          "receipts")
    return 0
