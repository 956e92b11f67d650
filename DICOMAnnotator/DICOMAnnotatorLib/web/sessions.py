"""The launcher's Slicer session processes: one per signed-in user, started at sign-in, stopped at sign-out,
after an idle time, or when the launcher stops; no more than a set number at once.

A process gets a free loopback port on its command line and everything secret on its standard input
(one JSON line: the user's session token and the key the launcher adds to each request it forwards),
never in its arguments or environment, which other accounts on the machine can read. Its output goes
to ``session.log`` in the user's work folder, which holds the case files it fetched and its drafts
(kept between sign-ins, so that a draft resumes), readable by the launcher's account only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DICOMAnnotatorError

log = logging.getLogger(__name__)

#: The header that carries the launcher's key on every request it forwards to a session process.
KEY_HEADER = "X-DICOM-Annotator-Key"

#: The longest a session process may take to answer its first request (trame-slicer needs 7-13 s here).
START_TIMEOUT = 120.0


class CapacityError(DICOMAnnotatorError):
    """Every place for a session process is taken."""


@dataclass
class SessionProcess:
    """One user's running session: where it listens, its key, its server token, when it was last used."""

    user: str
    token: str
    port: int
    key: str
    process: subprocess.Popen
    work: Path
    last_active: float = field(default_factory=time.monotonic)
    ready: bool = False

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def touch(self) -> None:
        self.last_active = time.monotonic()


class Sessions:
    """The running session processes by browser session id (the launcher's cookie)."""

    def __init__(self, server_url: str, work_root: Path, *, max_sessions: int, idle_seconds: float) -> None:
        self.server_url, self.work_root = server_url, Path(work_root)
        self.max_sessions, self.idle_seconds = max_sessions, idle_seconds
        self._running: dict[str, SessionProcess] = {}

    def find(self, browser_id: str | None) -> SessionProcess | None:
        session = self._running.get(browser_id or "")
        return session if session is not None and session.alive else None

    def count(self) -> int:
        return sum(1 for s in self._running.values() if s.alive)

    def start(self, user: str, token: str) -> tuple[str, SessionProcess]:
        """A new session process for ``user`` (replacing one they had); returns its browser session id."""
        for browser_id, session in list(self._running.items()):
            if session.user == user or not session.alive:
                self._stop(browser_id)
        if self.count() >= self.max_sessions:
            raise CapacityError(f"All {self.max_sessions} places for Slicer sessions are taken; try again when "
                                "someone signs out, or ask whoever runs the web app to raise --max-sessions")
        work = self.work_root / _safe(user)
        work.mkdir(parents=True, exist_ok=True, mode=0o700)
        port, key = _free_port(), secrets.token_urlsafe(32)
        with open(work / "session.log", "ab") as output:
            process = subprocess.Popen([sys.executable, "-m", "DICOMAnnotatorLib.web.desk_app", "--port", str(port)],
                                       stdin=subprocess.PIPE, stdout=output, stderr=subprocess.STDOUT,
                                       cwd=work, start_new_session=True)
        settings = {"server": self.server_url, "token": token, "user": user, "work": str(work), "key": key}
        process.stdin.write((json.dumps(settings) + "\n").encode())
        process.stdin.close()
        browser_id = secrets.token_urlsafe(32)
        self._running[browser_id] = SessionProcess(user, token, port, key, process, work)
        log.warning("Started the session process of %s (pid %d)", user, process.pid)
        return browser_id, self._running[browser_id]

    def stop(self, browser_id: str) -> SessionProcess | None:
        """Stop the session (the caller ends the user's server session with its token)."""
        return self._stop(browser_id)

    def idle(self) -> list[str]:
        """Browser session ids whose process has not been used for the idle time, or has died."""
        now = time.monotonic()
        return [browser_id for browser_id, s in self._running.items()
                if not s.alive or now - s.last_active > self.idle_seconds]

    def stop_all(self) -> list[SessionProcess]:
        return [s for s in (self._stop(browser_id) for browser_id in list(self._running)) if s is not None]

    def _stop(self, browser_id: str) -> SessionProcess | None:
        session = self._running.pop(browser_id, None)
        if session is None:
            return None
        if session.alive:
            session.process.terminate()
            try:
                session.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                session.process.kill()
                session.process.wait()
        log.warning("Stopped the session process of %s", session.user)
        return session


async def wait_until_ready(session: SessionProcess) -> bool:
    """Whether the session answers (its page is served) before :data:`START_TIMEOUT`; False when it died."""
    import aiohttp

    if session.ready:
        return True
    deadline = time.monotonic() + START_TIMEOUT
    async with aiohttp.ClientSession() as client:
        while time.monotonic() < deadline and session.alive:
            try:
                async with client.get(f"http://127.0.0.1:{session.port}/index.html",
                                      headers={KEY_HEADER: session.key}) as response:
                    if response.status == 200:
                        session.ready = True
                        return True
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.25)
    return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"


def default_work_root() -> Path:
    """``$XDG_DATA_HOME/dicom-annotator/web`` (``~/.local/share`` when XDG_DATA_HOME is unset)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dicom-annotator" / "web"
