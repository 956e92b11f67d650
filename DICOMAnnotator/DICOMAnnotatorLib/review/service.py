"""The review actions of one acting user, as the command, the Slicer modules and the web app use them.

:class:`LocalService` runs them on a store opened in this process: in local mode (the acting
user is named, the operating-system account is the boundary) and inside the team server (the
acting user is the one its session token belongs to). ``server.RemoteService`` offers the same
methods over HTTP, so a caller holds "a service" and never knows which. Every method returns
the JSON object the command prints with ``--json``.

Every refusal (a role, an assignment, blinding, a state, a file that is not the protocol's) is
also an audit record naming who asked, what and why, written after the refused transaction
rolled back: the refusal changes nothing else.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import insert, select

from ..errors import DICOMAnnotatorError
from .errors import AuthenticationError, EmptyQueueError, PermissionDeniedError, StoreError
from .fetched import safe_name, write_fetched
from .identity import UNKNOWN_ACTOR, audit_refusal, has_password, list_users, set_password, unlock, verify_password
from .schema import case_images, users
from .store import ReviewStore

F = TypeVar("F", bound=Callable[..., Any])


def _refusals_audited(method: F) -> F:
    """Record a refusal of ``method`` in the audit log, then let it reach the caller unchanged."""

    @functools.wraps(method)
    def audited(self: LocalService, *args: Any, **kwargs: Any) -> Any:
        if self._acting:  # called by another action: that one records the refusal
            return method(self, *args, **kwargs)
        self._acting = True
        try:
            return method(self, *args, **kwargs)
        except (StoreError, EmptyQueueError, AuthenticationError):
            raise  # the store failed, there is nothing to do, or identity recorded the refusal itself
        except DICOMAnnotatorError as refusal:
            case = kwargs.get("case", args[0] if args and isinstance(args[0], int) else None)
            try:
                audit_refusal(self.store, self._audit_actor(), method.__name__, str(refusal), case=case)
            except DICOMAnnotatorError:
                pass  # the refusal stands whether or not it could be recorded
            raise
        finally:
            self._acting = False

    return audited  # type: ignore[return-value]


class LocalService:
    """The review actions of ``actor`` on ``store`` (``actor`` None: nobody yet, for the first lead)."""

    def __init__(self, store: ReviewStore, actor: str | None) -> None:
        self.store = store
        self.actor = actor
        self._acting = False

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ users
    @_refusals_audited
    def add_user(self, name: str, roles: Sequence[str], *, password: str | None = None,
                 full_name: str | None = None) -> dict[str, Any]:
        """Add ``name`` (or grant more roles); a password (required in team mode) is stored hashed."""
        from .users import add_user

        user = add_user(self.store, name, roles, actor=self.actor, full_name=full_name)
        if password is not None:
            set_password(self.store, name, password, actor=self.actor or name)
        return {"user": user.name, "roles": sorted(r.value for r in user.roles)}

    @_refusals_audited
    def set_password(self, name: str, password: str) -> dict[str, Any]:
        set_password(self.store, name, password, actor=self._require_actor())
        return {"user": name, "password": "changed"}

    @_refusals_audited
    def unlock_user(self, name: str) -> dict[str, Any]:
        unlock(self.store, name, actor=self._require_actor())
        return {"user": name, "locked": False}

    @_refusals_audited
    def list_users(self) -> dict[str, Any]:
        self._require_lead("list users")
        return {"users": list_users(self.store)}

    # ------------------------------------------------------------------ projects and cases
    @_refusals_audited
    def create_project(self, name: str, protocol: Any, *, annotators: int | None = None) -> dict[str, Any]:
        from .projects import create_project

        return create_project(self.store, name, protocol, actor=self._require_actor(),
                              annotators_per_case=annotators).to_json()

    @_refusals_audited
    def project_status(self, name: str) -> dict[str, Any]:
        from .reports import project_status

        return project_status(self.store, name)

    @_refusals_audited
    def project_protocol(self, name: str) -> dict[str, Any]:
        """The project's protocol as frozen when the project was created (its JSON form)."""
        from .projects import project_protocol

        self._require_actor()
        with self.store.read() as conn:
            return {"project": name, "protocol": project_protocol(conn, name).to_dict()}

    @_refusals_audited
    def list_cases(self, project: str, *, state: str | None = None) -> dict[str, Any]:
        """The project's cases (in one state, if given), in the order they were added; a lead's view."""
        from .reports import list_cases

        self._require_lead(f"list the cases of project {project}")
        return {"project": project, "cases": list_cases(self.store, project, state=state)}

    @_refusals_audited
    def add_cases(self, project: str, folders: Sequence[str | os.PathLike[str]], *,
                  priority: int = 0) -> dict[str, Any]:
        """One case per series folder (a volume, or 2D images and cine loops), its images where they are (local
        mode)."""
        from ..imaging import open_images
        from .cases import SeriesRef, add_cases

        refs = []
        for folder in folders:
            series = open_images([folder])
            refs.append(SeriesRef(series.study_instance_uid, series.series_instance_uid, series.modality,
                                  str(Path(folder).absolute())))
        return {"cases": add_cases(self.store, project, refs, actor=self._require_actor(), priority=priority)}

    @_refusals_audited
    def add_stored_cases(self, project: str, series: Sequence[Sequence[tuple[str, Path]]], *,
                         priority: int = 0) -> dict[str, Any]:
        """One case per series of files sent to the server (``(name, held upload)`` each).

        The files are kept in the store and shown in a folder of it (``series/<series uid>/``, links to
        the kept copies), from which the series is read like any other and ``case fetch`` serves it.
        Nothing is kept when the cases are refused.
        """
        import secrets

        from ..imaging import open_images
        from .cases import SeriesRef, add_cases

        folders = self.store.files.root / "series"
        refs, staged = [], []
        try:
            for files in series:
                staging = folders / f"staging-{secrets.token_hex(8)}"
                staged.append((staging, files))
                for name, path in files:
                    self.store.files.link_into(path, staging / safe_name(name))
                found = open_images([staging])
                refs.append(SeriesRef(found.study_instance_uid, found.series_instance_uid, found.modality,
                                      str(folders / found.series_instance_uid)))
            ids = add_cases(self.store, project, refs, actor=self._require_actor(), priority=priority)
        except BaseException:
            for staging, _ in staged:
                shutil.rmtree(staging, ignore_errors=True)
            raise
        rows = []
        for case_id, ref, (staging, files) in zip(ids, refs, staged, strict=True):
            rows += [{"case_id": case_id, "name": safe_name(name),
                      "sha256": self.store.files.record(path, "image").sha256} for name, path in files]
            if Path(ref.location).exists():
                shutil.rmtree(staging)
            else:
                staging.rename(ref.location)
        with self.store.write(self._require_actor()) as tx:
            tx.conn.execute(insert(case_images), rows)
        return {"cases": ids}

    @_refusals_audited
    def assign(self, project: str, *, case: int | None = None,
               annotators: Sequence[str] | None = None) -> dict[str, Any]:
        from .assignment import assign_cases

        made = assign_cases(self.store, project, actor=self._require_actor(), case_id=case, annotators=annotators)
        return {"assignments": [a.to_json() for a in made]}

    @_refusals_audited
    def next_case(self, project: str, *, claim: bool = False, order: str = "priority") -> dict[str, Any]:
        from .queues import next_case

        return next_case(self.store, project, self._require_actor(), claim=claim, order=order).to_json()

    # ------------------------------------------------------------------ AI drafts
    @_refusals_audited
    def import_draft(self, case: int, output: str | os.PathLike[str], *, algorithm: str, algorithm_version: str,
                     label_table: str | os.PathLike[str] | None = None, labels: dict[str, str | None] | None = None,
                     drop_unmapped: bool = False, output_name: str | None = None) -> dict[str, Any]:
        """A model's output (label map, probability maps or SEG) becomes the case's latest AI draft (a lead acts)."""
        from .drafts import import_draft

        return import_draft(self.store, case, self._require_actor(), output, algorithm=algorithm,
                            algorithm_version=algorithm_version, label_table=label_table, labels=labels,
                            drop_unmapped=drop_unmapped, source_name=output_name)

    @_refusals_audited
    def open_case(self, case: int) -> dict[str, Any]:
        """Note that the user opened their case (the start of the time their submission took)."""
        from .drafts import record_open

        self.show_case(case)  # the user must be able to see the case
        return {"case": case, "opened_at": record_open(self.store, case, self._require_actor())}

    @_refusals_audited
    def evaluate(self, project: str, algorithm: str, *, version: str | None = None) -> dict[str, Any]:
        """The algorithm's drafts against the signed results of the same cases (``evaluate --json``)."""
        from .draft_evaluation import evaluate_drafts

        return evaluate_drafts(self.store, project, algorithm, version=version)

    # ------------------------------------------------------------------ the case's steps
    @_refusals_audited
    def submit(self, case: int, seg: str | os.PathLike[str] | None,
               sr: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        from .workflow import submit

        return submit(self.store, case, self._require_actor(), seg, sr).to_json()

    @_refusals_audited
    def review(self, case: int, decision: str, comment: str | None = None) -> dict[str, Any]:
        from .workflow import review_case

        return review_case(self.store, case, self._require_actor(), decision, comment).to_json()

    @_refusals_audited
    def consensus(self, case: int, *, method: str | None = None,
                  consensus_seg: str | os.PathLike[str] | None = None, output: str | os.PathLike[str] | None = None,
                  agreement: dict[str, Any] | None = None) -> dict[str, Any]:
        from .workflow import record_consensus

        if output is None and consensus_seg is None:  # one file per round: a round after changes has its own
            from .cases import get_case

            with self.store.read() as conn:
                current = get_case(conn, case).round
            output = self.store.files.root / "consensus" / f"case-{case}" / f"case-{case}-round-{current}-consensus.dcm"
            output.parent.mkdir(parents=True, exist_ok=True)
        return record_consensus(self.store, case, self._require_actor(), method=method, consensus_seg=consensus_seg,
                                output=output, agreement=agreement).to_json()

    @_refusals_audited
    def finalize(self, case: int, meaning: str, *, password: str | None = None) -> dict[str, Any]:
        """Sign the approved result. A user with a password gives it again here, whatever their session
        (21 CFR 11.200: each signing re-authenticates); the record keeps their printed name."""
        from .workflow import finalize_case

        actor = self._require_actor()
        if has_password(self.store, actor):
            if not password:
                raise PermissionDeniedError(f"Signing case {case} needs {actor}'s password again "
                                            "(--password-stdin, or the dialog in Slicer and the web app)")
            verify_password(self.store, actor, password, purpose=f"sign case {case}")
        with self.store.read() as conn:
            printed = conn.execute(select(users.c.full_name).where(users.c.name == actor)).scalar()
        return finalize_case(self.store, case, actor, meaning, printed_name=printed or actor).to_json()

    # ------------------------------------------------------------------ reading
    @_refusals_audited
    def show_case(self, case: int) -> dict[str, Any]:
        from .reports import show_case

        return show_case(self.store, case, self._require_actor())

    @_refusals_audited
    def case_files(self, case: int) -> dict[str, Any]:
        """What the user may download of the case: its images and the files ``show_case`` lets them see (asked by an
        annotator of the case, this is their opening it)."""
        from .drafts import record_open

        shown = self.show_case(case)
        record_open(self.store, case, self._require_actor())
        with self.store.read() as conn:
            stored = conn.execute(select(case_images.c.name, case_images.c.sha256)
                                  .where(case_images.c.case_id == case).order_by(case_images.c.name)).all()
        images = [{"name": r.name, "sha256": r.sha256, "path": str(self.store.files.path(r.sha256))} for r in stored]
        if not images:  # a local-mode case: its images are where they were added from
            images = _series_files(shown["images"], shown["series"])
        files = []
        for submission in shown["submissions"]:
            for role in ("seg", "sr"):
                if submission[role]:
                    files.append({"role": role, "user": submission["user"], "round": submission["round"],
                                  "path": submission[role], "sha256": submission[f"{role}_sha256"]})
        for merged in shown["consensus"]:
            for role in ("seg", "sr"):
                if merged[role]:
                    files.append({"role": f"consensus_{role}", "user": merged["user"], "round": merged["round"],
                                  "path": merged[role], "sha256": merged[f"{role}_sha256"]})
        if shown["drafts"]:  # the latest draft, which annotators start from
            draft = shown["drafts"][-1]
            files.append({"role": "draft", "user": draft["imported_by"], "round": shown["round"], "path": draft["seg"],
                          "sha256": draft["seg_sha256"], "algorithm": draft["algorithm"],
                          "algorithm_version": draft["algorithm_version"]})
        return {"case": case, "images": images, "files": files}

    def fetch_case(self, case: int, folder: str | os.PathLike[str]) -> dict[str, Any]:
        """Copy what :meth:`case_files` lists into ``folder`` (``images/`` and ``files/``), checksums verified."""
        listing = self.case_files(case)
        return write_fetched(listing, Path(folder), lambda entry, target: shutil.copyfile(entry["path"], target))

    @_refusals_audited
    def file_for(self, case: int, sha256: str) -> Path:
        """The kept file with this hash, if the user may see it as part of ``case`` (the server's downloads).

        A case image needs only the right to see the case (4 queries); any other file is looked for in
        what :meth:`case_files` shows the user, where blinding decides (9 queries more)."""
        from .reports import case_viewer

        with self.store.read() as conn:
            case_viewer(conn, case, self._require_actor())
            image = conn.execute(select(case_images.c.sha256).where(
                case_images.c.case_id == case, case_images.c.sha256 == sha256)).first()
        if image is not None:
            return self.store.files.path(sha256)
        listing = self.case_files(case)
        for entry in [*listing["images"], *listing["files"]]:
            if entry["sha256"] == sha256:
                return Path(entry["path"])
        raise PermissionDeniedError(f"{self.actor} may not download file {sha256[:12]}... of case {case}: it is not "
                                    "one of the case's files they may see now")

    # ------------------------------------------------------------------ audit
    @_refusals_audited
    def verify_audit(self) -> dict[str, Any]:
        from .audit import verify_chain

        self._require_lead("verify the audit log", local_anyone=True)
        with self.store.read() as conn:
            return verify_chain(conn).to_json()

    @_refusals_audited
    def export_audit(self, output: str | os.PathLike[str], fmt: str, *, force: bool = False) -> dict[str, Any]:
        from .audit import export_log

        self._require_lead("export the audit log", local_anyone=True)
        with self.store.read() as conn:
            return {"records": export_log(conn, output, fmt, force=force), "output": str(output)}

    # ------------------------------------------------------------------ helpers
    def _require_actor(self) -> str:
        if self.actor is None:
            raise PermissionDeniedError("This command needs to know who acts: pass --user NAME (or set "
                                        "DICOM_ANNOTATOR_USER), or log in to the team server")
        return self.actor

    def _require_lead(self, doing: str, *, local_anyone: bool = False) -> None:
        """The actor must be a lead; with ``local_anyone``, nobody named (local mode, where the operating
        system's account guards the store) may too."""
        from ..protocols import ReviewRole
        from .users import get_user

        if local_anyone and self.actor is None:
            return
        with self.store.read() as conn:
            user = get_user(conn, self._require_actor())
        if ReviewRole.LEAD not in user.roles:
            raise PermissionDeniedError(f"{user.name} cannot {doing}: only a lead can")

    def _audit_actor(self) -> str:
        return self.actor or UNKNOWN_ACTOR


def _series_files(location: str, series_uid: str) -> list[dict[str, str]]:
    from ..imaging import open_images
    from .stored_files import sha256_of

    series = open_images([location], series_uid=series_uid)
    paths = sorted({str(source.path) for source in series.slices if source.path is not None})
    return [{"name": f"{index:05d}-{Path(path).name}", "sha256": sha256_of(path), "path": path}
            for index, path in enumerate(paths, start=1)]
