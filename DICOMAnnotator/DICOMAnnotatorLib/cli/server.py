"""``dicom-annotator serve``, ``login`` and ``logout``: the team server and signing in to it."""

from __future__ import annotations

import argparse

from .pacs import add_pacs_arguments, pacs_connection
from .review_options import add_password_argument, read_password


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve", help="run the team server: the one process holding the store's credentials and files",
        description="Users sign in with `login URL`; every store command given --store URL then goes through this "
                    "server, which checks who acts and what they may do. The first lead is added on the database: "
                    "user add NAME --role lead --password-stdin --store DATABASE_URL.")
    serve.add_argument("--store", required=True, metavar="DATABASE_URL",
                       help="the review store's database (sqlite:///FILE.db or postgresql://...)")
    serve.add_argument("--files", required=True, metavar="DIR", help="where the store keeps case images and files")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; any other "
                                                           "needs --tls-cert and --tls-key)")
    serve.add_argument("--port", type=int, default=8443, help="port (default 8443)")
    serve.add_argument("--tls-cert", metavar="FILE", help="the server's certificate chain (PEM)")
    serve.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM)")
    serve.add_argument("--session-ttl", type=float, default=8 * 3600, metavar="SECONDS",
                       help="how long a session lasts (default 8 hours)")
    serve.add_argument("--max-upload-mb", type=int, default=4096, help="largest file one request may send")
    serve.add_argument("--upload-timeout", type=float, default=3600, metavar="SECONDS",
                       help="longest time one upload may take")
    serve.add_argument("--push-to", metavar="URL", help="send each signed SEG/SR on to this PACS (DICOMweb base or "
                       "dimse://AET@host:port) after the signature; failures are retried and audited (pacs.push), "
                       "never in the signature's way")
    add_pacs_arguments(serve, prefix="push-")
    serve.set_defaults(func=_serve)

    login = subparsers.add_parser("login", help="sign in to a team server; the session is kept for later commands")
    login.add_argument("url", metavar="URL", help="the server, e.g. https://annotation.hospital.org:8443")
    login.add_argument("--user", metavar="NAME", help="your user name (asked on a terminal when not given)")
    add_password_argument(login, "your password")
    login.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    login.set_defaults(func=_login)

    logout = subparsers.add_parser("logout", help="end the session on the server and forget it here")
    logout.add_argument("url", metavar="URL")
    logout.set_defaults(func=_logout)


def _serve(args: argparse.Namespace) -> int:
    from ..server import Limits, PushTarget, serve

    push_to = None
    if args.push_to:
        connection = pacs_connection(args, args.push_to, prefix="push-")
        push_to = PushTarget(connection["endpoint"], connection["credentials"], connection["policy"],
                             connection["timeout"], backoff=(max(args.push_retry_delay, 0.1), 600.0))
    serve(args.store, args.files, host=args.host, port=args.port, tls_cert=args.tls_cert, tls_key=args.tls_key,
          session_ttl=args.session_ttl,
          limits=Limits(max_upload_bytes=args.max_upload_mb << 20, upload_seconds=args.upload_timeout),
          push_to=push_to)
    return 0


def _login(args: argparse.Namespace) -> int:
    import sys

    from ..review import AuthenticationError
    from ..server import config_folder, login
    from .output import emit

    user = args.user
    if user is None and sys.stdin.isatty():
        user = input("User name: ").strip()
    if not user:
        raise AuthenticationError("Give your user name with --user NAME")
    password = read_password(args, f"Password for {user}: ")
    if not password:
        raise AuthenticationError("Give your password with --password-stdin (or type it at the prompt)")
    session = login(args.url, user, password)
    emit(args.json, {"user": session["user"], "expires_at": session["expires_at"], "url": args.url},
         f"Logged in to {args.url} as {session['user']} until {session['expires_at']} "
         f"(session kept in {config_folder()})")
    return 0


def _logout(args: argparse.Namespace) -> int:
    from ..server import forget_session, logout

    try:
        logout(args.url)
    finally:
        forget_session(args.url)
    print(f"Logged out of {args.url}")
    return 0
