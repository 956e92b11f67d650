"""``dicom-annotator serve``: the team server process, on loopback or behind TLS.

It refuses to listen beyond loopback without a certificate (a session token or a password must
never cross a network in clear); behind a TLS proxy it listens on 127.0.0.1 and the proxy holds
the certificate. On start it removes uploads a killed predecessor left unfinished.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from datetime import timedelta
from pathlib import Path

from ..errors import InputError, MissingDependencyError
from ..review import ReviewStore
from .app import Limits, create_app
from .pacs_push import PushTarget, ResultPusher

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) reaches only this machine."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError as error:
        raise InputError(f"Cannot resolve --host {host!r} ({error}); give an address such as 127.0.0.1") from None
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def serve(store_url: str, files: str | os.PathLike[str], *, host: str = "127.0.0.1", port: int = 8443,
          tls_cert: str | None = None, tls_key: str | None = None, session_ttl: float = 8 * 3600,
          limits: Limits | None = None, push_to: PushTarget | None = None) -> None:
    """Run the server until interrupted (SIGINT/SIGTERM stop it cleanly); with ``push_to``, signed results are
    sent on to that PACS."""
    if bool(tls_cert) != bool(tls_key):
        raise InputError("TLS needs both --tls-cert and --tls-key")
    for path in (tls_cert, tls_key):
        if path and not Path(path).is_file():
            raise InputError(f"{path} does not exist; give the server's certificate and key (PEM)")
    if not tls_cert and not is_loopback(host):
        raise InputError(f"Refusing to listen on {host} without TLS: passwords and session tokens would cross the "
                         "network in clear; give --tls-cert and --tls-key, or listen on 127.0.0.1 behind a TLS proxy")
    if session_ttl <= 0:
        raise InputError(f"--session-ttl must be positive, not {session_ttl:g} seconds")
    try:
        import uvicorn
    except ImportError:
        raise MissingDependencyError("uvicorn", "The team server", "pip install 'dicom-annotator[server]'") from None
    store = ReviewStore(store_url, files=files)
    removed = store.files.clear_incoming()
    if removed:
        log.warning("Removed %d upload(s) left unfinished by an earlier server process", removed)
    pusher = ResultPusher(store, push_to).start() if push_to is not None else None
    app = create_app(store, session_ttl=timedelta(seconds=session_ttl), limits=limits or Limits(),
                     on_signed=pusher.submit if pusher is not None else None)
    scheme = "https" if tls_cert else "http"
    log.warning("Serving the review store %s on %s://%s:%d (files in %s)", store.display_url, scheme, host, port,
                store.files.root)
    try:
        uvicorn.run(app, host=host, port=port, ssl_certfile=tls_cert, ssl_keyfile=tls_key, log_level="warning",
                    access_log=False, timeout_graceful_shutdown=10)
    finally:
        if pusher is not None:
            pusher.stop()
        store.close()
