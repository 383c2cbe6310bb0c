"""`python -m bot agents add|passwd|disable|enable|list`: the agent accounts of the console and the REST API.
The database comes from HELPLINE_DB (or --db, which shows in `ps`)."""
from __future__ import annotations

import getpass
import sys

from bot.cli import add_db_flag, store_of

ACTIONS = (("add", "add an agent (asks for the password)"), ("passwd", "set a new password (the agent's sessions "
           "end)"), ("disable", "lock an account out (its sessions end)"), ("enable", "let a disabled account in "
           "again"), ("list", "names, roles, disabled"))


def add_parser(subparsers, name: str, help: str | None):
    parser = subparsers.add_parser(name, help=help, description=__doc__)
    actions = parser.add_subparsers(dest="action", required=True)
    for action, text in ACTIONS:
        one = actions.add_parser(action, help=text)
        if action != "list":
            one.add_argument("name")
        if action in ("add", "passwd"):
            one.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        if action == "add":
            one.add_argument("--role", choices=("agent", "admin"), default="agent",
                             help="admin: may also retrain, promote and roll back models")
        add_db_flag(one)
        one.set_defaults(run=run)
    return parser


def _password(args) -> str:
    return sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")


def run(args) -> int:
    store = store_of(args)
    if args.action == "add":
        agent = store.add_agent(args.name, _password(args), role=args.role)
        print(f"agent {agent.name} added (id {agent.id}, role {agent.role})")
    elif args.action == "passwd":
        store.set_password(args.name, _password(args))
        print(f"password of {args.name} changed; their sessions ended")
    elif args.action in ("disable", "enable"):
        store.set_disabled(args.name, args.action == "disable")
        print(f"agent {args.name} {args.action}d")
    else:
        for agent in store.agents():
            print(f"{agent.name}\t{agent.role}\t{'disabled' if agent.disabled else 'active'}")
    return 0
