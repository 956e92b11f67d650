"""Fixtures of the PACS tests: a real Orthanc on loopback inside a network namespace, and phantom studies.

Test modules load them with ``pytest_plugins = ["pacs_fixtures"]``. Orthanc, its DICOMweb plugin,
``unshare``/``nsenter`` and root (to make the namespace) are required: missing, the tests fail
under CI=true and skip elsewhere (scripts/install-test-tools.sh installs the Debian packages).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import CI, COMMAND, require_tool
from orthanc_server import CLIENT_AET, NetworkNamespace, Orthanc, find_dicomweb_plugin, find_orthanc


def _require(found: str | None, what: str) -> str:
    if found is None:
        if CI:
            pytest.fail(f"{what} is not installed; scripts/install-test-tools.sh installs it")
        pytest.skip(f"{what} is not installed (bash scripts/install-test-tools.sh installs it)")
    return found


class Pacs:
    """Orthanc, its namespace, and our command run inside that namespace."""

    def __init__(self, namespace: NetworkNamespace, orthanc: Orthanc, folder: Path) -> None:
        self.namespace, self.orthanc, self.folder = namespace, orthanc, folder
        self.credentials = orthanc.credentials_file(folder)

    def run(self, *args: object, env: dict[str, str] | None = None, timeout: float = 300,
            stdin: str | None = None) -> subprocess.CompletedProcess:
        """``dicom-annotator ARGS`` inside the namespace (the only place Orthanc can be reached)."""
        return self.namespace.run([COMMAND, *map(str, args)], env=env, timeout=timeout, input=stdin)

    def ok(self, *args: object, **kwargs) -> subprocess.CompletedProcess:
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-2000:])
        return result

    def batch(self, commands: list[dict]) -> list[dict]:
        """Several commands in one process inside the namespace (see cli_batch.py); each must succeed."""
        import json
        import sys

        script = Path(__file__).with_name("cli_batch.py")
        payload = json.dumps([{**c, "argv": [str(a) for a in c["argv"]]} for c in commands])
        result = self.namespace.run([sys.executable, script], input=payload, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        outcomes = json.loads(result.stdout)
        for command, outcome in zip(commands, outcomes, strict=True):
            assert outcome["status"] == command.get("status", 0), (command["argv"], outcome)
        return outcomes

    def dicomweb(self, *args: object) -> list[object]:
        """DICOMweb arguments: the URL and our credentials file."""
        return [self.orthanc.url, *args, "--credentials", self.credentials]

    def dimse(self, *args: object) -> list[object]:
        return [self.orthanc.dimse_url, *args, "--calling-aet", CLIENT_AET]


@pytest.fixture(scope="module")
def pacs(tmp_path_factory):
    """One Orthanc for a test module, reachable on loopback inside its own network namespace."""
    program = _require(find_orthanc(), "Orthanc (Debian package orthanc)")
    plugin = _require(find_dicomweb_plugin(), "Orthanc's DICOMweb plugin (Debian package orthanc-dicomweb)")
    for tool in ("unshare", "nsenter", "ip"):
        require_tool(tool)
    if os.geteuid() != 0:
        _require(None, "root (to make a network namespace for Orthanc)")
    folder = tmp_path_factory.mktemp("pacs")
    namespace = NetworkNamespace()
    try:
        orthanc = Orthanc(namespace, folder / "orthanc", program=program, plugin=plugin).start()
        try:
            yield Pacs(namespace, orthanc, folder)
        finally:
            orthanc.stop()
    finally:
        namespace.close()
