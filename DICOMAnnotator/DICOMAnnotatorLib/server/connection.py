"""One way for every client to reach the review store: a database opened here, or a team server.

``connect(url, user)`` gives the service the command, the Slicer modules and the web app use:
:class:`review.LocalService` on a database URL (local mode: the named user acts), or
:class:`server.RemoteService` on a server URL (``https://...``, or ``http://`` on loopback), where
the user is whoever ``login`` signed in, and naming someone else is refused.
"""

from __future__ import annotations

from typing import Any

from ..review import PermissionDeniedError


def is_server_url(url: str | None) -> bool:
    return bool(url) and url.split("://", 1)[0].lower() in ("http", "https")


def connect(url: str | None, user: str | None, *, create: bool = False) -> Any:
    """The review actions of ``user`` on the store at ``url`` (None: the default store); close it after use."""
    if is_server_url(url):
        from .client import RemoteService  # here: a local store's commands need no HTTP client

        service = RemoteService(url)
        if user and user != service.actor:
            raise PermissionDeniedError(f"You are logged in to {service.url} as {service.actor}, not {user}; log in "
                                        f"as {user} to act as them")
        return service
    from ..review import LocalService, ReviewStore  # here: a server's clients need no database library

    return LocalService(ReviewStore(url, create=create), user)
