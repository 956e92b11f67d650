"""``dicom-annotator web``: the sign-in page, and a reverse proxy to each signed-in user's Slicer session process.

Why a reverse proxy rather than sending the browser to each session's own port: the browser sees one
origin, one port (the one a TLS proxy or a firewall rule has to let through), and one cookie; no key or
port ever appears in a URL, history or log; and the session processes listen on loopback behind a key
that only the launcher sends. trame's page computes its websocket address from its own path, so it runs
unchanged under ``/app/``.

Sign-in asks the team server (:func:`server.sign_in`): the password goes there and nowhere else (not
into a URL, a log, or the session process). The session token it returns goes to the user's session
process on its standard input; the browser gets only a random cookie naming its session here.
Sign-out, the idle time and the launcher's own stop end both the process and the server session.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

from ..errors import DICOMAnnotatorError, InputError, MissingDependencyError
from ..server import is_loopback, sign_in, sign_out
from .pages import sign_in_page, starting_page
from .sessions import KEY_HEADER, CapacityError, Sessions, wait_until_ready

log = logging.getLogger(__name__)

COOKIE = "dicom_annotator_session"
#: Headers that belong to one hop of a connection, not to the request or answer forwarded.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "host", "content-length", "content-encoding", "cookie"}


@dataclass(frozen=True)
class LauncherSettings:
    """How ``dicom-annotator web`` runs (the command's options)."""

    server_url: str
    work_root: Path
    host: str = "127.0.0.1"
    port: int = 8080
    max_sessions: int = 4
    idle_seconds: float = 1800.0


def create_launcher(settings: LauncherSettings):
    """The launcher's aiohttp application."""
    from aiohttp import ClientSession, WSMsgType, web

    sessions = Sessions(settings.server_url, settings.work_root, max_sessions=settings.max_sessions,
                        idle_seconds=settings.idle_seconds)
    client_key = web.AppKey("client", ClientSession)
    loop_tasks: set[asyncio.Task] = set()

    async def blocking(function, *args):
        return await asyncio.get_running_loop().run_in_executor(None, function, *args)

    async def end_server_session(user: str, token: str) -> None:
        try:
            await blocking(sign_out, settings.server_url, token)
        except DICOMAnnotatorError as error:  # expired already, or the server is gone: nothing left to end
            log.warning("Could not end the server session of %s: %s", user, error)
        else:
            log.warning("Ended the server session of %s", user)

    def html(text: str, status: int = 200) -> web.Response:
        return web.Response(text=text, status=status, content_type="text/html",
                            headers={"Cache-Control": "no-store"})

    async def index(request: web.Request) -> web.Response:
        if sessions.find(request.cookies.get(COOKIE)) is not None:
            raise web.HTTPFound("/app/")
        return html(sign_in_page(settings.server_url))

    async def sign_in_handler(request: web.Request) -> web.Response:
        form = await request.post()
        user, password = str(form.get("user", "")).strip(), str(form.get("password", ""))
        try:
            signed = await blocking(sign_in, settings.server_url, user, password)
        except DICOMAnnotatorError as error:
            return html(sign_in_page(settings.server_url, error=str(error), user=user), 401)
        try:
            browser_id, session = sessions.start(signed["user"], signed["token"])
        except CapacityError as error:
            await end_server_session(signed["user"], signed["token"])
            return html(sign_in_page(settings.server_url, error=str(error), user=user), 503)
        task = asyncio.get_running_loop().create_task(wait_until_ready(session))
        loop_tasks.add(task)
        task.add_done_callback(loop_tasks.discard)
        response = web.HTTPFound("/app/")
        response.set_cookie(COOKIE, browser_id, httponly=True, samesite="Strict", path="/")
        raise response

    async def sign_out_handler(request: web.Request) -> web.Response:
        session = sessions.stop(request.cookies.get(COOKIE, ""))
        if session is not None:
            await end_server_session(session.user, session.token)
        response = html(sign_in_page(settings.server_url, note="Signed out" if session else ""))
        response.del_cookie(COOKIE, path="/")
        return response

    async def proxy(request: web.Request) -> web.StreamResponse:
        session = sessions.find(request.cookies.get(COOKIE))
        if session is None:
            if request.headers.get("Upgrade", "").lower() == "websocket":
                raise web.HTTPForbidden()
            return html(sign_in_page(settings.server_url, error="Your session has ended; sign in again"), 401)
        if not session.ready:
            return html(starting_page(session.user))
        session.touch()
        target = f"http://127.0.0.1:{session.port}/{request.match_info['tail']}"
        if request.query_string:
            target += f"?{request.query_string}"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        headers[KEY_HEADER] = session.key
        client = request.app[client_key]
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await relay_websocket(request, client, target.replace("http://", "ws://", 1), session)
        async with client.request(request.method, target, headers=headers, data=await request.read(),
                                  allow_redirects=False) as upstream:
            body = await upstream.read()
            answer = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
            return web.Response(status=upstream.status, body=body, headers=answer)

    async def relay_websocket(request, client, target: str, session) -> web.WebSocketResponse:
        browser = web.WebSocketResponse(max_msg_size=0)
        await browser.prepare(request)
        async with client.ws_connect(target, headers={KEY_HEADER: session.key}, max_msg_size=0) as upstream:

            async def pump(source, sink, *, from_browser: bool) -> None:
                async for message in source:
                    if from_browser:
                        session.touch()
                    if message.type == WSMsgType.TEXT:
                        await sink.send_str(message.data)
                    elif message.type == WSMsgType.BINARY:
                        await sink.send_bytes(message.data)
                    else:
                        break

            pumps = [asyncio.ensure_future(pump(browser, upstream, from_browser=True)),
                     asyncio.ensure_future(pump(upstream, browser, from_browser=False))]
            _, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        await browser.close()
        return browser

    async def reap_idle(app: web.Application) -> None:
        while True:
            await asyncio.sleep(max(1.0, min(30.0, settings.idle_seconds / 4)))
            for browser_id in sessions.idle():
                session = sessions.stop(browser_id)
                if session is not None:
                    await end_server_session(session.user, session.token)

    async def started(app: web.Application) -> None:
        app[client_key] = ClientSession(auto_decompress=True)
        task = asyncio.get_running_loop().create_task(reap_idle(app))
        loop_tasks.add(task)

    async def stopping(app: web.Application) -> None:
        for task in list(loop_tasks):
            task.cancel()
        for session in sessions.stop_all():
            await end_server_session(session.user, session.token)
        await app[client_key].close()

    app = web.Application(client_max_size=1 << 20)
    app.router.add_get("/", index)
    app.router.add_post("/sign-in", sign_in_handler)
    app.router.add_post("/sign-out", sign_out_handler)
    app.router.add_route("*", "/app/{tail:.*}", proxy)
    app.on_startup.append(started)
    app.on_shutdown.append(stopping)
    return app


def run_launcher(settings: LauncherSettings) -> None:
    """Serve the web app until interrupted (SIGINT/SIGTERM stop every session process first)."""
    if not is_loopback(settings.host):
        raise InputError(f"Refusing to listen on {settings.host}: the web app serves passwords and images over plain "
                         "HTTP; listen on 127.0.0.1 behind a TLS proxy")
    if settings.max_sessions < 1:
        raise InputError(f"--max-sessions must be at least 1, not {settings.max_sessions}")
    if settings.idle_seconds <= 0:
        raise InputError(f"--idle-timeout must be positive, not {settings.idle_seconds:g} seconds")
    # the session processes need trame-slicer: say so now, not at the first sign-in
    if importlib.util.find_spec("aiohttp") is None or importlib.util.find_spec("trame_slicer") is None:
        raise MissingDependencyError("trame-slicer", "The web app", "pip install 'dicom-annotator[web]'")
    from aiohttp import web

    settings.work_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    log.warning("Serving the web app on http://%s:%d for the team server %s (at most %d sessions)", settings.host,
                settings.port, settings.server_url, settings.max_sessions)
    web.run_app(create_launcher(settings), host=settings.host, port=settings.port, access_log=None, print=None)
