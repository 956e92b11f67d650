"""``dicom-annotator user add|passwd|list|unlock``: people, their review roles and their passwords."""

from __future__ import annotations

import argparse

from .review_options import (
    add_password_argument,
    add_review_arguments,
    is_server_url,
    open_service,
    read_password,
    store_url,
)

ROLE_CHOICES = ("annotator", "reviewer", "radiologist", "lead")


def register(subparsers: argparse._SubParsersAction) -> None:
    user = subparsers.add_parser("user", help="review store users, their roles and passwords")
    commands = user.add_subparsers(dest="user_command", metavar="SUBCOMMAND")
    commands.required = True
    add = commands.add_parser("add", help="add a user, or grant an existing user more roles (a lead acts; the first "
                                          "user of a new store is a lead adding themself)")
    add.add_argument("name", metavar="NAME", help="the user's name as they will sign in with it")
    add.add_argument("--role", action="append", required=True, choices=ROLE_CHOICES,
                     help="a role to grant (repeat for several)")
    add.add_argument("--full-name", metavar="TEXT", help="the name printed with the user's signatures")
    add_password_argument(add, "the new user's password (required on a team server)")
    add_review_arguments(add, json='{"user", "roles"}',
                         user_help="the lead who adds the user (not needed for the first user)")
    add.set_defaults(func=_add)

    passwd = commands.add_parser("passwd", help="set your password, or (a lead) reset anyone's; lifts a lock")
    passwd.add_argument("name", metavar="NAME")
    add_password_argument(passwd, "the new password")
    add_review_arguments(passwd, json=True)
    passwd.set_defaults(func=_passwd)

    listing = commands.add_parser("list", help="every user with roles and whether the account is locked (a lead)")
    add_review_arguments(listing, json='{"users": [{"name", "roles", "locked", ...}]}')
    listing.set_defaults(func=_list)

    unlock = commands.add_parser("unlock", help="lift the lock of an account after failed sign-ins (a lead)")
    unlock.add_argument("name", metavar="NAME")
    add_review_arguments(unlock, json=True)
    unlock.set_defaults(func=_unlock)


def _add(args: argparse.Namespace) -> int:
    from ..review import ReviewError
    from .output import emit

    password = read_password(args, f"Password for {args.name}: ") if args.password_stdin else None
    if password is None and is_server_url(store_url(args)):
        raise ReviewError(f"On a team server every user has a password: give {args.name}'s with --password-stdin")
    with open_service(args, create=True, need_user=False) as service:
        user = service.add_user(args.name, args.role, password=password, full_name=args.full_name)
    emit(args.json, user, f"{user['user']}: {', '.join(user['roles'])}")
    return 0


def _passwd(args: argparse.Namespace) -> int:
    from ..review import ReviewError
    from .output import emit

    password = read_password(args, f"New password for {args.name}: ")
    if not password:
        raise ReviewError(f"Give {args.name}'s new password with --password-stdin (or type it at the prompt)")
    with open_service(args) as service:
        result = service.set_password(args.name, password)
    emit(args.json, result, f"Password of {args.name} changed")
    return 0


def _list(args: argparse.Namespace) -> int:
    from .output import emit

    with open_service(args) as service:
        result = service.list_users()
    emit(args.json, result, "\n".join(
        f"{u['name']:<20} {', '.join(u['roles']):<40} {'LOCKED until ' + u['locked_until'] if u['locked'] else ''}"
        for u in result["users"]))
    return 0


def _unlock(args: argparse.Namespace) -> int:
    from .output import emit

    with open_service(args) as service:
        result = service.unlock_user(args.name)
    emit(args.json, result, f"{args.name} unlocked")
    return 0
