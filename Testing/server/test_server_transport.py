"""How the team server meets the network: TLS, loopback only without it, and limits on what one request sends."""

from __future__ import annotations

import subprocess

import requests
from conftest import COMMAND, require_tool
from team_server import TeamServer, Workstation

LEAD_PASSWORD = "lead-correct horse battery"


def test_a_non_loopback_address_without_tls_is_refused(tmp_path):
    result = subprocess.run([COMMAND, "serve", "--store", f"sqlite:///{tmp_path / 'store.db'}", "--files",
                             str(tmp_path / "files"), "--host", "0.0.0.0", "--port", "1"],
                            capture_output=True, text=True, timeout=60)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: ") and "TLS" in lines[0]
    assert not (tmp_path / "store.db").exists(), "nothing is created when the server refuses to start"


def self_signed(folder) -> tuple:
    """A certificate for 127.0.0.1 and its key (openssl), the test's own CA as well."""
    openssl = require_tool("openssl")
    cert, key = folder / "server.pem", folder / "server.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_tls_serves_the_same_api_and_clients_check_the_certificate(tmp_path):
    server = TeamServer(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, tls=self_signed(tmp_path))
    server.add_first_lead("lead", LEAD_PASSWORD)
    server.start()
    try:
        assert server.url.startswith("https://")
        lead = Workstation(tmp_path / "lead", server)
        lead.login("lead", LEAD_PASSWORD)
        assert "lead" in lead.ok("user", "list")
        # A client that does not trust the certificate stops, naming TLS; plain HTTP gets nowhere.
        stranger = subprocess.run([COMMAND, "login", server.url, "--user", "lead", "--password-stdin"],
                                  input=LEAD_PASSWORD + "\n", capture_output=True, text=True, timeout=60,
                                  env={"PATH": "/usr/bin:/bin", "DICOM_ANNOTATOR_CONFIG": str(tmp_path / "s")})
        assert stranger.returncode == 1 and "TLS" in stranger.stderr
        try:
            plain = requests.get(server.url.replace("https://", "http://") + "/api/version", timeout=10)
            assert not plain.ok
        except requests.RequestException:
            pass  # the TLS listener closes a plain connection: as good
    finally:
        server.stop()


def test_an_upload_over_the_limit_is_refused_and_kept_nowhere(tmp_path):
    server = TeamServer(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, extra=("--max-upload-mb", "1"))
    server.add_first_lead("lead", LEAD_PASSWORD)
    server.start()
    try:
        lead = Workstation(tmp_path / "lead", server)
        lead.login("lead", LEAD_PASSWORD)
        token = lead.token()
        response = requests.put(f"{server.url}/api/files", data=b"\0" * (2 << 20), timeout=60,
                                headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 422 and "larger than the 1 MB" in response.json()["error"]
        streamed = requests.put(f"{server.url}/api/files", data=iter([b"\0" * (1 << 19)] * 4), timeout=60,
                                headers={"Authorization": f"Bearer {token}"})  # no length given: counted on arrival
        assert streamed.status_code == 422
        incoming = server.files / "incoming"
        assert not incoming.exists() or not any(incoming.iterdir())
        assert not (server.files / "sha256").exists()
    finally:
        server.stop()
