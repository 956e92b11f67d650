"""The team server's HTTP API: the review actions of :class:`review.LocalService`, for signed-in users.

Starlette on uvicorn: a small, maintained ASGI stack with streaming request bodies (uploads go to
disk as they arrive, never whole into memory), sync endpoints run in a thread pool (the store's
calls block), TLS in uvicorn, and nothing the API does not use (no schema layer: the core checks
every input itself and its errors are the API's errors).

The server is the only process that holds the database credentials. Every request but sign-in
carries ``Authorization: Bearer TOKEN``; the token's session names the acting user, and every
rule (roles, assignment, blinding, tiers, no self-review, the protocol's structures) is the
core's, run here. Errors come back as ``{"error": message, "kind": class name}`` with a status
that says what kind of refusal it was; the client raises the same class.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from .. import __version__
from ..errors import DICOMAnnotatorError, InputError
from ..review import (
    AlreadyExistsError,
    AuthenticationError,
    EmptyQueueError,
    IllegalTransitionError,
    LocalService,
    NotFoundError,
    PermissionDeniedError,
    ReviewStore,
    StoreError,
    SubmissionFileError,
    audit_refusal,
    login,
    revoke_session,
    session_user,
)

log = logging.getLogger(__name__)

#: HTTP status per kind of error (the most specific class that applies wins).
STATUS = [(AuthenticationError, 401), (PermissionDeniedError, 403), (NotFoundError, 404), (EmptyQueueError, 404),
          (AlreadyExistsError, 409), (IllegalTransitionError, 409), (SubmissionFileError, 422), (InputError, 422),
          (StoreError, 503), (DICOMAnnotatorError, 400)]


@dataclass(frozen=True)
class Limits:
    """How much one request may send, and for how long."""

    max_upload_bytes: int = 4 << 30
    upload_seconds: float = 3600.0
    max_json_bytes: int = 16 << 20


def create_app(store: ReviewStore, *, session_ttl: timedelta, limits: Limits | None = None,
               on_signed: Callable[[int], None] | None = None) -> Starlette:
    """The API over ``store``; its files folder is where uploads and kept files live. ``on_signed(case)`` is
    told of each signature once it is recorded (``serve --push-to`` queues the result for the PACS)."""
    limits = limits or Limits()

    def action(handler: Callable[[Request, LocalService, dict[str, Any]], Any]) -> Callable[[Request], Response]:
        """A signed-in user's action: body read as JSON, the handler's result returned as JSON."""

        async def endpoint(request: Request) -> Response:
            try:
                body = await _json_body(request, limits.max_json_bytes)
                actor = await _run(session_user, store, _bearer(request))
                result = await _run(_handled, handler, request, LocalService(store, actor), body)
            except DICOMAnnotatorError as error:
                return _error(error)
            except (KeyError, TypeError, ValueError) as error:  # a request that does not have the API's form
                return _error(InputError(f"The request to {request.url.path} is malformed ({type(error).__name__}: "
                                         f"{str(error)[:200]}); use dicom-annotator or the web app of version "
                                         f"{__version__}"))
            except Exception:
                log.exception("Request %s %s failed", request.method, request.url.path)
                return JSONResponse({"error": "The server failed on this request; its log says why", "kind":
                                     "ServerError"}, status_code=500)
            return result if isinstance(result, Response) else JSONResponse(result)

        return endpoint

    async def sign_in(request: Request) -> Response:
        try:
            body = await _json_body(request, limits.max_json_bytes)
            session = await _run(login, store, str(body.get("user", "")), str(body.get("password", "")),
                                 ttl=session_ttl)
        except DICOMAnnotatorError as error:
            return _error(error)
        return JSONResponse(session.to_json())

    async def sign_out(request: Request) -> Response:
        try:
            await _run(revoke_session, store, _bearer(request))
        except DICOMAnnotatorError as error:
            return _error(error)
        return JSONResponse({"logged_out": True})

    async def upload(request: Request) -> Response:
        """A file's bytes, streamed to disk and hashed as they come; held until an action names it."""
        actor = None
        try:
            actor = await _run(session_user, store, _bearer(request))
            declared = int(request.headers.get("content-length") or 0)
            if declared > limits.max_upload_bytes:
                raise SubmissionFileError(f"The file ({declared >> 20} MB) is larger than the "
                                          f"{limits.max_upload_bytes >> 20} MB this server accepts")
            incoming = store.files.receive(max_bytes=limits.max_upload_bytes)
            started = time.monotonic()
            try:
                async for chunk in request.stream():
                    incoming.write(chunk)
                    if time.monotonic() - started > limits.upload_seconds:
                        raise SubmissionFileError(f"The upload took longer than the {limits.upload_seconds:g} s this "
                                                  "server allows; send it again over a faster link")
                held = incoming.finish(request.headers.get("x-content-sha256"))
            except BaseException:
                incoming.abort()
                raise
        except DICOMAnnotatorError as error:
            if actor is not None:
                await _run(audit_refusal, store, actor, "upload", str(error))
            return _error(error)
        return JSONResponse({"upload": held.name, "sha256": held.name.split("-")[1], "size": incoming.size})

    def download(request: Request, service: LocalService, _body: dict[str, Any]) -> Response:
        path = service.file_for(int(request.path_params["case"]), request.path_params["sha256"])
        return FileResponse(path, media_type="application/dicom", filename=Path(path).name)

    def export_audit(request: Request, service: LocalService, _body: dict[str, Any]) -> Response:
        fmt = request.query_params.get("format", "json")
        target = store.files.root / "exports" / f"audit-{time.time_ns()}.{fmt}"
        target.parent.mkdir(parents=True, exist_ok=True)
        service.export_audit(target, fmt)
        content = target.read_bytes()
        target.unlink()
        return Response(content, media_type="text/csv" if fmt == "csv" else "application/json")

    def held_files(body: dict[str, Any], key: str) -> Path | None:
        return store.files.held(body[key]) if body.get(key) else None

    def submit(request: Request, service: LocalService, body: dict[str, Any]) -> Any:
        return service.submit(int(request.path_params["case"]), held_files(body, "seg"), held_files(body, "sr"))

    def import_draft(request: Request, service: LocalService, body: dict[str, Any]) -> Any:
        """The model's output (and its label table) as sent, under their own names: readers go by extension."""
        import shutil
        import tempfile

        from ..review import safe_name

        store.files.incoming.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="draft-upload-", dir=store.files.incoming))
        try:
            named = {}
            for key in ("output", "label_table"):
                if body.get(key):
                    named[key] = work / key / safe_name(str(body.get(f"{key}_name") or key))
                    store.files.link_into(store.files.held(body[key]), named[key])
            return service.import_draft(
                int(request.path_params["case"]), named["output"], algorithm=str(body.get("algorithm") or ""),
                algorithm_version=str(body.get("algorithm_version") or ""), label_table=named.get("label_table"),
                labels=body.get("labels"), drop_unmapped=bool(body.get("drop_unmapped")),
                output_name=str(body.get("output_name") or "output"))
        finally:
            shutil.rmtree(work, ignore_errors=True)
            for key in ("output", "label_table"):
                if isinstance(body.get(key), str):
                    _discard(store, body[key])

    def add_cases(request: Request, service: LocalService, body: dict[str, Any]) -> Any:
        series = [[(str(entry["name"]), store.files.held(entry["upload"])) for entry in files]
                  for files in body.get("series") or []]
        return service.add_stored_cases(request.path_params["project"], series, priority=int(body.get("priority", 0)))

    def create_project(request: Request, service: LocalService, body: dict[str, Any]) -> Any:
        from ..protocols import Protocol

        protocol = Protocol.from_dict(body.get("protocol"), source="the protocol sent to the server")
        return service.create_project(str(body.get("name")), protocol, annotators=body.get("annotators"))

    def case_id(request: Request) -> int:
        return int(request.path_params["case"])

    def finalize(request: Request, service: LocalService, body: dict[str, Any]) -> Any:
        signature = service.finalize(case_id(request), str(body.get("meaning", "")), password=body.get("password"))
        if on_signed is not None:
            on_signed(signature["case"])
        return signature

    routes = [
        Route("/api/version", lambda request: JSONResponse({"dicom_annotator": __version__}), methods=["GET"]),
        Route("/api/login", sign_in, methods=["POST"]),
        Route("/api/logout", sign_out, methods=["POST"]),
        Route("/api/me", action(lambda r, s, b: {"user": s.actor}), methods=["GET"]),
        Route("/api/users", action(lambda r, s, b: s.add_user(
            str(b.get("name")), b.get("roles") or [], password=b.get("password"), full_name=b.get("full_name"))),
            methods=["POST"]),
        Route("/api/users", action(lambda r, s, b: s.list_users()), methods=["GET"]),
        Route("/api/users/{name}/unlock", action(lambda r, s, b: s.unlock_user(r.path_params["name"])),
              methods=["POST"]),
        Route("/api/users/{name}/password", action(lambda r, s, b: s.set_password(
            r.path_params["name"], str(b.get("password", "")))), methods=["POST"]),
        Route("/api/projects", action(create_project), methods=["POST"]),
        Route("/api/projects/{project}/protocol", action(lambda r, s, b: s.project_protocol(
            r.path_params["project"])), methods=["GET"]),
        Route("/api/projects/{project}/status", action(lambda r, s, b: s.project_status(r.path_params["project"])),
              methods=["GET"]),
        Route("/api/projects/{project}/cases", action(add_cases), methods=["POST"]),
        Route("/api/projects/{project}/cases", action(lambda r, s, b: s.list_cases(
            r.path_params["project"], state=r.query_params.get("state"))), methods=["GET"]),
        Route("/api/projects/{project}/assign", action(lambda r, s, b: s.assign(
            r.path_params["project"], case=b.get("case"), annotators=b.get("annotators"))), methods=["POST"]),
        Route("/api/projects/{project}/next", action(lambda r, s, b: s.next_case(
            r.path_params["project"], claim=bool(b.get("claim")), order=str(b.get("order") or "priority"))),
            methods=["POST"]),
        Route("/api/projects/{project}/evaluate", action(lambda r, s, b: s.evaluate(
            r.path_params["project"], str(b.get("algorithm") or ""), version=b.get("version"))), methods=["POST"]),
        Route("/api/files", upload, methods=["PUT"]),
        Route("/api/cases/{case:int}", action(lambda r, s, b: s.show_case(case_id(r))), methods=["GET"]),
        Route("/api/cases/{case:int}/files", action(lambda r, s, b: _listing(s.case_files(case_id(r)))),
              methods=["GET"]),
        Route("/api/cases/{case:int}/files/{sha256}", action(download), methods=["GET"]),
        Route("/api/cases/{case:int}/submit", action(submit), methods=["POST"]),
        Route("/api/cases/{case:int}/drafts", action(import_draft), methods=["POST"]),
        Route("/api/cases/{case:int}/open", action(lambda r, s, b: s.open_case(case_id(r))), methods=["POST"]),
        Route("/api/cases/{case:int}/review", action(lambda r, s, b: s.review(
            case_id(r), str(b.get("decision")), b.get("comment"))), methods=["POST"]),
        Route("/api/cases/{case:int}/consensus", action(lambda r, s, b: s.consensus(
            case_id(r), method=b.get("method"), consensus_seg=held_files(b, "consensus_seg"),
            agreement=b.get("agreement"))), methods=["POST"]),
        Route("/api/cases/{case:int}/finalize", action(finalize), methods=["POST"]),
        Route("/api/audit/verify", action(lambda r, s, b: s.verify_audit()), methods=["GET"]),
        Route("/api/audit/export", action(export_audit), methods=["GET"]),
    ]
    return Starlette(routes=routes)


def _handled(handler: Callable[..., Any], request: Request, service: LocalService, body: dict[str, Any]) -> Any:
    """Run ``handler``; held uploads a refused action named are deleted, so the refusal keeps nothing."""
    try:
        return handler(request, service, body)
    except BaseException:
        for key in ("seg", "sr", "consensus_seg", "output", "label_table"):
            if isinstance(body.get(key), str):
                _discard(service.store, body[key])
        for files in body.get("series") or []:
            for entry in files if isinstance(files, list) else []:
                if isinstance(entry, dict) and isinstance(entry.get("upload"), str):
                    _discard(service.store, entry["upload"])
        raise


def _discard(store: ReviewStore, name: str) -> None:
    try:
        store.files.held(name).unlink(missing_ok=True)
    except DICOMAnnotatorError:
        pass  # not a held upload (any more): nothing to remove


def _listing(files: dict[str, Any]) -> dict[str, Any]:
    """A case's files without the server's own paths (the client names the files it writes)."""
    strip = [{k: v for k, v in entry.items() if k != "path"} | {"name": entry.get("name") or Path(entry["path"]).name}
             for entry in files["images"]]
    return {"case": files["case"], "images": strip,
            "files": [{k: v for k, v in entry.items() if k != "path"} | {"name": Path(entry["path"]).name}
                      for entry in files["files"]]}


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer ") or not header[7:].strip():
        raise AuthenticationError("This request carries no session; log in first (dicom-annotator login URL)")
    return header[7:].strip()


async def _json_body(request: Request, limit: int) -> dict[str, Any]:
    if request.method in ("GET", "HEAD"):
        return {}
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise InputError(f"The request is larger than the {limit >> 20} MB the server takes for one action")
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise InputError(f"The request is not JSON ({error})") from None
    if not isinstance(body, dict):
        raise InputError("The request must be one JSON object")
    return body


async def _run(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Blocking work (the database, files, hashing) off the event loop."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(function, *args, **kwargs)


def _error(error: DICOMAnnotatorError) -> JSONResponse:
    status = next(code for kind, code in STATUS if isinstance(error, kind))
    return JSONResponse({"error": str(error), "kind": type(error).__name__}, status_code=status)
