"""The review actions over HTTP: the same methods as :class:`review.LocalService`, run by the team server.

A command, the Slicer modules or the web app given a server URL hold a :class:`RemoteService`
instead of a local one and notice no other difference: files are sent (hashed first, streamed,
checked by the server) and fetched (checked again here), and a refusal raises the same error
class, with the same message, as it would in local mode. ``requests`` is the HTTP client because
Slicer bundles it, so the modules need nothing more to reach a server.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import errors as core_errors
from .. import review
from ..errors import DICOMAnnotatorError
from ..review import StoreError, sha256_of, write_fetched
from .credentials import save_session, saved_session, server_key

TIMEOUT = (10.0, 600.0)  # (connect, read) seconds: a consensus or a large file may take minutes

_connections = threading.local()


def sign_in(url: str, user: str, password: str) -> dict[str, Any]:
    """A new session of ``user`` on the server at ``url`` (``token``, ``user``, ``expires_at``), kept nowhere: the
    web app holds it for the user's browser session only."""
    return _call("POST", url, "/api/login", token=None, json={"user": user, "password": password})


def sign_out(url: str, token: str) -> None:
    """End the session of ``token`` on the server (it cannot be used again)."""
    _call("POST", url, "/api/logout", token=token)


def login(url: str, user: str, password: str) -> dict[str, Any]:
    """Sign in to the server at ``url``; the session is kept for later commands (the password is not)."""
    session = sign_in(url, user, password)
    save_session(url, session)
    return session


def logout(url: str) -> None:
    sign_out(url, saved_session(url)["token"])


class RemoteService:
    """The actions of the user logged in to ``url`` (from ``login``'s saved session unless ``token`` is given)."""

    def __init__(self, url: str, *, token: str | None = None) -> None:
        self.url = server_key(url)
        saved = saved_session(url) if token is None else {"token": token, "user": None}
        self.token = saved["token"]
        self.actor = saved.get("user")

    def close(self) -> None:
        """Nothing to release: the thread's connection is shared by its calls (the server's session stays until
        logout or expiry)."""

    # ------------------------------------------------------------------ users
    def whoami(self) -> str:
        return self._get("/api/me")["user"]

    def add_user(self, name: str, roles: Sequence[str], *, password: str | None = None,
                 full_name: str | None = None) -> dict[str, Any]:
        return self._post("/api/users", {"name": name, "roles": list(roles), "password": password,
                                         "full_name": full_name})

    def set_password(self, name: str, password: str) -> dict[str, Any]:
        return self._post(f"/api/users/{name}/password", {"password": password})

    def unlock_user(self, name: str) -> dict[str, Any]:
        return self._post(f"/api/users/{name}/unlock", {})

    def list_users(self) -> dict[str, Any]:
        return self._get("/api/users")

    # ------------------------------------------------------------------ projects and cases
    def create_project(self, name: str, protocol: Any, *, annotators: int | None = None) -> dict[str, Any]:
        return self._post("/api/projects", {"name": name, "protocol": protocol.to_dict(), "annotators": annotators})

    def project_status(self, name: str) -> dict[str, Any]:
        return self._get(f"/api/projects/{name}/status")

    def project_protocol(self, name: str) -> dict[str, Any]:
        return self._get(f"/api/projects/{name}/protocol")

    def list_cases(self, project: str, *, state: str | None = None) -> dict[str, Any]:
        return self._get(f"/api/projects/{project}/cases" + (f"?state={state}" if state else ""))

    def add_cases(self, project: str, folders: Sequence[str | os.PathLike[str]], *,
                  priority: int = 0) -> dict[str, Any]:
        """Each folder's series is read here (refused here when it is neither a volume nor 2D images or cine loops),
        then sent file by file."""
        from ..imaging import open_images

        series = []
        for folder in folders:
            found = open_images([folder])
            paths = sorted({source.path for source in found.slices if source.path is not None})
            series.append([{"name": f"{index:05d}-{path.name}", "upload": self._upload(path)["upload"]}
                           for index, path in enumerate(paths, start=1)])
        return self._post(f"/api/projects/{project}/cases", {"series": series, "priority": priority})

    def assign(self, project: str, *, case: int | None = None,
               annotators: Sequence[str] | None = None) -> dict[str, Any]:
        return self._post(f"/api/projects/{project}/assign", {"case": case, "annotators": annotators})

    def next_case(self, project: str, *, claim: bool = False, order: str = "priority") -> dict[str, Any]:
        return self._post(f"/api/projects/{project}/next", {"claim": claim, "order": order})

    # ------------------------------------------------------------------ AI drafts
    def import_draft(self, case: int, output: str | os.PathLike[str], *, algorithm: str, algorithm_version: str,
                     label_table: str | os.PathLike[str] | None = None, labels: dict[str, str | None] | None = None,
                     drop_unmapped: bool = False, output_name: str | None = None) -> dict[str, Any]:
        """The output and its label table are sent; the server reads them on the case's series (which it holds)."""
        if label_table is not None and Path(label_table).is_dir():  # a MONAI bundle: its metadata names the labels
            label_table = Path(label_table) / "configs" / "metadata.json"
        body = {"output": self._upload(output)["upload"], "output_name": output_name or Path(output).name,
                "label_table": self._upload(label_table)["upload"] if label_table is not None else None,
                "label_table_name": Path(label_table).name if label_table is not None else None,
                "labels": labels, "drop_unmapped": drop_unmapped, "algorithm": algorithm,
                "algorithm_version": algorithm_version}
        return self._post(f"/api/cases/{case}/drafts", body)

    def open_case(self, case: int) -> dict[str, Any]:
        return self._post(f"/api/cases/{case}/open", {})

    def evaluate(self, project: str, algorithm: str, *, version: str | None = None) -> dict[str, Any]:
        return self._post(f"/api/projects/{project}/evaluate", {"algorithm": algorithm, "version": version})

    # ------------------------------------------------------------------ the case's steps
    def submit(self, case: int, seg: str | os.PathLike[str] | None,
               sr: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        body = {role: self._upload(path)["upload"] if path is not None else None
                for role, path in (("seg", seg), ("sr", sr))}
        return self._post(f"/api/cases/{case}/submit", body)

    def review(self, case: int, decision: str, comment: str | None = None) -> dict[str, Any]:
        return self._post(f"/api/cases/{case}/review", {"decision": decision, "comment": comment})

    def consensus(self, case: int, *, method: str | None = None,
                  consensus_seg: str | os.PathLike[str] | None = None, output: str | os.PathLike[str] | None = None,
                  agreement: dict[str, Any] | None = None) -> dict[str, Any]:
        """Computed (or recorded) on the server; with ``output``, the consensus SEG is also written there."""
        body = {"method": method, "agreement": agreement,
                "consensus_seg": self._upload(consensus_seg)["upload"] if consensus_seg is not None else None}
        result = self._post(f"/api/cases/{case}/consensus", body)
        if output is not None:
            merged = [f for f in self.case_files(case)["files"] if f["role"] == "consensus_seg"]
            if merged:
                self._download(case, merged[-1], Path(output))
        return result

    def finalize(self, case: int, meaning: str, *, password: str | None = None) -> dict[str, Any]:
        return self._post(f"/api/cases/{case}/finalize", {"meaning": meaning, "password": password})

    # ------------------------------------------------------------------ reading
    def show_case(self, case: int) -> dict[str, Any]:
        return self._get(f"/api/cases/{case}")

    def case_files(self, case: int) -> dict[str, Any]:
        return self._get(f"/api/cases/{case}/files")

    def fetch_case(self, case: int, folder: str | os.PathLike[str]) -> dict[str, Any]:
        listing = self.case_files(case)
        for entry in listing["files"]:
            entry["path"] = entry["name"]
        return write_fetched(listing, Path(folder), lambda entry, target: self._download(case, entry, target))

    # ------------------------------------------------------------------ audit
    def verify_audit(self) -> dict[str, Any]:
        return self._get("/api/audit/verify")

    def export_audit(self, output: str | os.PathLike[str], fmt: str, *, force: bool = False) -> dict[str, Any]:
        from ..atomic import atomic_path

        response = _request("GET", self.url, f"/api/audit/export?format={fmt}", token=self.token, stream=False)
        with atomic_path(output, force=force) as target:
            target.write_bytes(response.content)
        records = response.content.count(b"\n") - 1 if fmt == "csv" else len(response.json())
        return {"records": records, "output": str(output)}

    # ------------------------------------------------------------------ HTTP
    def _get(self, path: str) -> Any:
        return _call("GET", self.url, path, token=self.token)

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        return _call("POST", self.url, path, token=self.token, json=body)

    def _upload(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        path = Path(path)
        if not path.is_file():
            raise core_errors.InputError(f"{path} does not exist; give the file to send")
        sha256 = sha256_of(path)
        with open(path, "rb") as handle:
            return _call("PUT", self.url, "/api/files", token=self.token, data=handle,
                         headers={"X-Content-SHA256": sha256, "Content-Length": str(path.stat().st_size)})

    def _download(self, case: int, entry: dict[str, Any], target: Path) -> None:
        with _request("GET", self.url, f"/api/cases/{case}/files/{entry['sha256']}", token=self.token,
                      stream=True) as response, open(target, "wb") as handle:
            for chunk in response.iter_content(1 << 20):
                handle.write(chunk)


def _call(method: str, url: str, path: str, *, token: str | None, **kwargs: Any) -> Any:
    return _request(method, url, path, token=token, **kwargs).json()


def _request(method: str, url: str, path: str, *, token: str | None, headers: dict[str, str] | None = None,
             **kwargs: Any) -> Any:
    import requests

    headers = dict(headers or {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = _http().request(method, server_key(url) + path, headers=headers, timeout=TIMEOUT, **kwargs)
    except requests.exceptions.SSLError as error:
        raise StoreError(f"The team server at {server_key(url)} did not prove its identity over TLS ({error}); "
                         "check the URL, or give its CA certificate in REQUESTS_CA_BUNDLE") from None
    except requests.exceptions.RequestException as error:
        raise StoreError(f"Cannot reach the team server at {server_key(url)} ({type(error).__name__}); check the URL "
                         "and that `dicom-annotator serve` runs there") from None
    if response.status_code >= 400:
        raise _error_of(response, url)
    return response


def _http() -> Any:
    """This thread's ``requests.Session``: calls reuse their connection to the server (HTTP keep-alive) instead
    of opening one each, which the server would otherwise accept, set up and close for every call. One per
    thread and per process, since a session is not shared safely across either."""
    import requests

    if getattr(_connections, "pid", None) != os.getpid():
        _connections.session, _connections.pid = requests.Session(), os.getpid()
    return _connections.session


def _error_of(response: Any, url: str) -> DICOMAnnotatorError:
    """The server's refusal as the error class the core raised there."""
    try:
        payload = response.json()
        message, kind = str(payload["error"]), str(payload.get("kind", ""))
    except (ValueError, KeyError, TypeError):
        return StoreError(f"The team server at {server_key(url)} answered {response.status_code} without an "
                          "explanation; is the URL a dicom-annotator server?")
    for module in (review, core_errors):
        cls = getattr(module, kind, None) if kind in dir(module) else None
        if isinstance(cls, type) and issubclass(cls, DICOMAnnotatorError):
            try:
                return cls(message)
            except TypeError:
                break  # errors built from several arguments (ProtocolError): the message is what counts
    return DICOMAnnotatorError(message)
