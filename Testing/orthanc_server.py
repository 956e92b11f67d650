"""A throw-away Orthanc PACS reachable on loopback only, for tests and benchmarks.

Orthanc (Debian ``orthanc`` + ``orthanc-dicomweb``) cannot bind to one address: it listens on
every interface. So it runs inside a network namespace of its own (``unshare --net``, which needs
root), where the only interface is the loopback, and every client of it (our command, Python
helpers) is started inside the same namespace with ``nsenter``. The namespace lives as long as a
holder process, so Orthanc can be stopped and started again in it; it and everything in it
disappear when :meth:`NetworkNamespace.close` kills the holder.

The configuration is written at start: storage in a temporary folder, the DICOMweb plugin, HTTP
and DICOM ports, an HTTP user, ``RemoteAccessAllowed`` false, and the client's AE title registered
so that C-FIND and C-GET answer it.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from processes import stop_process

ORTHANC_AET = "ORTHANC"
CLIENT_AET = "ANNOTATOR-TEST"
USER, PASSWORD = "pacs-user", "pacs-pass-1234-not-a-real-secret"


def find_orthanc() -> str | None:
    """The Orthanc program (Debian installs it in /usr/sbin, often not on a user's PATH)."""
    return shutil.which("Orthanc") or next((p for p in ("/usr/sbin/Orthanc",) if os.access(p, os.X_OK)), None)


def find_dicomweb_plugin() -> str | None:
    """The DICOMweb plugin's shared library as the orthanc-dicomweb package installs it."""
    candidates = glob.glob("/usr/share/orthanc/plugins/libOrthancDicomWeb.so*") + \
        glob.glob("/usr/lib/orthanc/libOrthancDicomWeb.so*")
    return sorted(candidates)[0] if candidates else None


class NetworkNamespace:
    """A network namespace with only ``lo`` (up), held by a sleeping process; ``command`` runs inside it."""

    def __init__(self) -> None:
        self.holder = subprocess.Popen(["unshare", "--net", "--", "sleep", "infinity"])
        deadline = time.monotonic() + 10
        while not self._entered() and time.monotonic() < deadline:
            time.sleep(0.01)
        subprocess.run(self.command(["ip", "link", "set", "lo", "up"]), check=True, timeout=30)

    def _entered(self) -> bool:
        try:
            return os.readlink(f"/proc/{self.holder.pid}/ns/net") != os.readlink("/proc/self/ns/net")
        except OSError:
            return False

    def command(self, args: list[str]) -> list[str]:
        return ["nsenter", "-t", str(self.holder.pid), "-n", "--", *map(str, args)]

    def run(self, args: list[str], *, env: dict[str, str] | None = None, timeout: float = 300,
            input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(args), capture_output=True, text=True, env=env, timeout=timeout,
                              input=input)

    def popen(self, args: list[str], **kwargs) -> subprocess.Popen:
        return subprocess.Popen(self.command(args), **kwargs)

    def close(self) -> None:
        self.holder.kill()
        self.holder.wait()


class Orthanc:
    """Orthanc in ``namespace`` with its storage in ``folder``; ``start``/``stop``/``kill`` keep the storage."""

    def __init__(self, namespace: NetworkNamespace, folder: Path, *, program: str, plugin: str,
                 http_port: int = 8042, dicom_port: int = 4242) -> None:
        self.namespace, self.folder, self.program = namespace, folder, program
        self.http_port, self.dicom_port = http_port, dicom_port
        self.url = f"http://127.0.0.1:{http_port}/dicom-web"
        self.dimse_url = f"dimse://{ORTHANC_AET}@127.0.0.1:{dicom_port}"
        self.log = folder / "orthanc.log"
        self.config = folder / "orthanc.json"
        folder.mkdir(parents=True, exist_ok=True)
        self.config.write_text(json.dumps({
            "Name": "DICOMAnnotator tests",
            "StorageDirectory": str(folder / "storage"),
            "IndexDirectory": str(folder / "storage"),
            "StorageCompression": False,
            "HttpPort": http_port,
            "DicomPort": dicom_port,
            "DicomAet": ORTHANC_AET,
            "DicomCheckCalledAet": True,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {USER: PASSWORD},
            "Plugins": [plugin],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
            "DicomModalities": {"client": {"AET": CLIENT_AET, "Host": "127.0.0.1", "Port": 11112}},
            "DicomAlwaysAllowStore": True,
            "ConcurrentJobs": 1,
            "HttpCompressionEnabled": False,
            "LogExportedResources": False,
            "SaveJobs": False,
        }, indent=2))
        self.process: subprocess.Popen | None = None

    def start(self) -> Orthanc:
        with open(self.log, "ab") as log:
            self.process = self.namespace.popen([self.program, str(self.config)], stdout=log,
                                                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc stopped at start: {self.log.read_text()[-3000:]}")
            if self._started_count() > self._starts:
                self._starts += 1
                return self
            time.sleep(0.02)
        raise RuntimeError(f"Orthanc did not start within 60 s: {self.log.read_text()[-3000:]}")

    _starts = 0

    def _started_count(self) -> int:
        return self.log.read_text(errors="replace").count("Orthanc has started") if self.log.exists() else 0

    def stop(self) -> None:
        stop_process(self.process, signal.SIGTERM)
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crash or a pulled cable would stop it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def credentials_file(self, folder: Path) -> Path:
        path = folder / "pacs-credentials.json"
        path.write_text(json.dumps({"user": USER, "password": PASSWORD}))
        path.chmod(0o600)
        return path
