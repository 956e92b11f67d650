"""The team server: one process holds the store and its files; users reach it over HTTPS with sessions.

``app`` is the HTTP API (Starlette), ``run`` starts it (uvicorn, TLS, loopback rule), ``client``
is the same review actions as ``review.LocalService`` over HTTP, ``connect`` picks one of the two
by the store's URL, ``credentials`` keeps a user's session token for their commands, and
``pacs_push`` sends signed results on to a PACS. Identity (passwords, lock-out, sessions) and every
rule are the review package's, run by the server.
"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "app": ["Limits", "create_app"],
    "client": ["RemoteService", "login", "logout", "sign_in", "sign_out"],
    "connection": ["connect", "is_server_url"],
    "credentials": ["config_folder", "forget_session", "saved_session"],
    "pacs_push": ["PushTarget", "ResultPusher"],
    "run": ["is_loopback", "serve"],
})
