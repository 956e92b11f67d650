"""A real team server process on 127.0.0.1 and client "workstations" that reach it only over HTTP.

:class:`TeamServer` runs ``dicom-annotator serve`` (SQLite or PostgreSQL behind it) on a free
port, with its log captured to a file, and can be killed with SIGKILL and started again on the
same store. :class:`Workstation` runs ``dicom-annotator`` commands as separate processes with a
config folder and a working folder of its own: nothing is shared with the server but the URL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests
from conftest import COMMAND
from processes import stop_process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_answering(process: subprocess.Popen, url: str, log: Path, what: str, *, verify: bool | str = True,
                         timeout: float = 60) -> None:
    """Wait until ``url`` answers; the process's log tells why when it stopped or did not answer in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} stopped at start: {log.read_text()[-2000:]}")
        try:
            if requests.get(url, timeout=2, verify=verify).ok:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer within {timeout:g} s: {log.read_text()[-2000:]}")


class TeamServer:
    """``dicom-annotator serve --store DB --files DIR`` on 127.0.0.1; ``start``/``stop``/``kill``."""

    def __init__(self, store_url: str, folder: Path, *, extra: tuple[str, ...] = (),
                 tls: tuple[Path, Path] | None = None) -> None:
        self.store_url, self.folder, self.extra, self.tls = store_url, folder, extra, tls
        self.files = folder / "server-files"
        self.log = folder / "server.log"
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def add_first_lead(self, name: str, password: str) -> None:
        """The first lead, added on the database by whoever runs the server (as CLI.md says)."""
        result = subprocess.run([COMMAND, "user", "add", name, "--role", "lead", "--password-stdin", "--store",
                                 self.store_url], input=password + "\n", capture_output=True, text=True,
                                env=self._env(), timeout=60)
        assert result.returncode == 0, result.stderr

    def start(self) -> TeamServer:
        args = [COMMAND, "serve", "--store", self.store_url, "--files", str(self.files), "--port", str(self.port),
                *self.extra]
        if self.tls:
            args += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=self._env())
        wait_until_answering(self.process, f"{self.url}/api/version", self.log, "the server",
                             verify=str(self.tls[0]) if self.tls else True)
        return self

    def stop(self) -> None:
        stop_process(self.process, signal.SIGINT)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as a power cut or the OOM killer would do it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DICOM_ANNOTATOR_CONFIG"] = str(self.folder / "server-config")
        for variable in ("DICOM_ANNOTATOR_STORE", "DICOM_ANNOTATOR_USER"):
            env.pop(variable, None)
        return env


class Workstation:
    """A user's machine: its own config folder (session tokens) and working folder; talks to the server only."""

    def __init__(self, folder: Path, server: TeamServer) -> None:
        self.folder, self.server = folder, server
        self.config = folder / "config"
        folder.mkdir(parents=True, exist_ok=True)

    def run(self, *args: object, stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        env["DICOM_ANNOTATOR_CONFIG"] = str(self.config)
        env["DICOM_ANNOTATOR_STORE"] = self.server.url
        env.pop("DICOM_ANNOTATOR_USER", None)
        if self.server.tls:
            env["REQUESTS_CA_BUNDLE"] = str(self.server.tls[0])
        return subprocess.run([COMMAND, *map(str, args)], input=stdin, capture_output=True, text=True, cwd=self.folder,
                              env=env, timeout=timeout)

    def ok(self, *args: object, stdin: str | None = None) -> str:
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, (args, result.stderr)
        return result.stdout

    def login(self, user: str, password: str) -> None:
        self.ok("login", self.server.url, "--user", user, "--password-stdin", stdin=password + "\n")

    def token(self) -> str:
        import json

        return json.loads((self.config / "sessions.json").read_text())[self.server.url]["token"]
