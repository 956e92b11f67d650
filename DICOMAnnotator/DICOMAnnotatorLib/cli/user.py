"""``dicom-annotator user add``: people and their review roles."""

from __future__ import annotations

import argparse

from .review_options import acting_user, add_review_arguments, open_store

ROLE_CHOICES = ("annotator", "reviewer", "radiologist", "lead")


def register(subparsers: argparse._SubParsersAction) -> None:
    user = subparsers.add_parser("user", help="review store users and their roles")
    commands = user.add_subparsers(dest="user_command", metavar="SUBCOMMAND")
    commands.required = True
    add = commands.add_parser("add", help="add a user, or grant an existing user more roles (a lead acts; the first "
                                          "user of a new store is a lead adding themself)")
    add.add_argument("name", metavar="NAME", help="the user's name as they will pass it to --user")
    add.add_argument("--role", action="append", required=True, choices=ROLE_CHOICES,
                     help="a role to grant (repeat for several)")
    add_review_arguments(add, json=True, user_help="the lead who adds the user (not needed for the first user)")
    add.set_defaults(func=_add)


def _add(args: argparse.Namespace) -> int:
    from ..review import add_user
    from .output import emit

    with open_store(args, create=True) as store:
        user = add_user(store, args.name, args.role, actor=acting_user(args, required=False))
    roles = sorted(r.value for r in user.roles)
    emit(args.json, {"user": user.name, "roles": roles}, f"{user.name}: {', '.join(roles)}")
    return 0
