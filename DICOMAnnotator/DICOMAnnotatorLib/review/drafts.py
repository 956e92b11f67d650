"""AI drafts in the store: imported for a case, kept as SEGs, shown to whoever may see the case, and the
moment each annotator opened their case (the start of the time a submission took).

A lead imports a model's output for a case (:func:`import_draft`): it is read on the case's series,
its labels mapped onto the project's protocol and written as a SEG of AUTOMATIC segments, which the
store keeps like any submission (content-addressed, audited). Annotators then start from the case's
latest draft; at each submission the store records how much they changed it (:mod:`.corrections`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, exists, insert, select

from ..protocols import ReviewRole
from .audit import FileRecord, canonical_json
from .cases import case_project, get_case
from .projects import project_protocol
from .schema import assignments, case_opens, drafts, users
from .states import require_role
from .store import ReviewStore
from .stored_files import sha256_of
from .users import get_user

#: Who may import drafts: the project's lead.
_IMPORTERS = frozenset({ReviewRole.LEAD})


def import_draft(store: ReviewStore, case_id: int, actor: str, source: str | os.PathLike[str], *, algorithm: str,
                 algorithm_version: str, label_table: str | os.PathLike[str] | None = None,
                 labels: Mapping[str, str | None] | None = None, drop_unmapped: bool = False,
                 source_name: str | None = None) -> dict[str, Any]:
    """Make ``source`` (a model's output) the latest draft of case ``case_id``; returns the ``draft import --json``
    object. ``source_name`` names the file in the report when ``source`` is a server's copy of it."""
    from ..drafts import build_draft, map_labels, read_model_output
    from ..imaging import ReferenceSeries

    source = Path(source)
    shown = source_name or str(source)
    with store.read() as conn:
        _require_importer(conn, actor, case_id)
        case = get_case(conn, case_id)
        project = case_project(conn, case)
        protocol = project_protocol(conn, project.name)
    series = ReferenceSeries.from_paths(case.image_location, series_uid=case.series_uid)
    output = read_model_output(source, series, label_table=label_table, values_as_names=bool(labels))
    mapping = map_labels(output.labels.labels, protocol, explicit=labels, drop_unmapped=drop_unmapped,
                         output=Path(shown).name)
    draft = build_draft(output, mapping, series, protocol, algorithm=algorithm, algorithm_version=algorithm_version)
    report = draft.to_json()
    report["source"]["file"] = shown
    source_sha256 = sha256_of(source)
    written = store.files.scratch(".dcm")
    digest = hashlib.sha256()  # of the SEG's bytes as they are written: 112 MB for 104 structures, not read again
    try:
        kept = store.files.adopt(draft.write(written, digest=digest), "draft", sha256=digest.hexdigest())
    finally:
        written.unlink(missing_ok=True)
    with store.write(actor) as tx:
        _require_importer(tx.conn, actor, case_id)
        case = get_case(tx.conn, case_id, lock=True)
        uncertainty = draft.uncertainty.mean_entropy if draft.uncertainty else None
        draft_id = tx.conn.execute(insert(drafts).values(
            case_id=case.id, algorithm=draft.algorithm, algorithm_version=draft.algorithm_version,
            segmentation_type=draft.segmentation_type.upper(), seg_path=kept.path, seg_sha256=kept.sha256,
            source_sha256=source_sha256, import_json=canonical_json(report), uncertainty=uncertainty,
            imported_by=get_user(tx.conn, actor).id, imported_at=tx.now).returning(drafts.c.id)).scalar_one()
        tx.record("draft.import", project=project.name, case=case.id,
                  details={"draft": draft_id, "algorithm": draft.algorithm,
                           "algorithm_version": draft.algorithm_version,
                           "segmentation_type": draft.segmentation_type.upper(), "mapping": report["structures"],
                           "dropped": report["dropped"], "uncertainty": uncertainty},
                  files=[kept, FileRecord("model_output", shown, source_sha256)])
    return {"case": case_id, "draft": draft_id, "seg": kept.path, "seg_sha256": kept.sha256, **report}


def _require_importer(conn: Connection, actor: str, case_id: int) -> None:
    require_role(get_user(conn, actor).roles, _IMPORTERS, actor, f"import an AI draft for case {case_id}")


def latest_draft(conn: Connection, case_id: int) -> Any | None:
    """The case's latest draft row (the one annotators start from), or None."""
    return conn.execute(select(drafts).where(drafts.c.case_id == case_id).order_by(drafts.c.id.desc())
                        .limit(1)).one_or_none()


def case_drafts(conn: Connection, case_id: int) -> list[dict[str, Any]]:
    """The case's drafts, oldest first, as ``case show --json`` lists them (the last is the current one)."""
    query = (select(drafts, users.c.name).join(users, users.c.id == drafts.c.imported_by)
             .where(drafts.c.case_id == case_id).order_by(drafts.c.id))
    return [{"draft": r.id, "algorithm": r.algorithm, "algorithm_version": r.algorithm_version,
             "segmentation_type": r.segmentation_type, "seg": r.seg_path, "seg_sha256": r.seg_sha256,
             "uncertainty": r.uncertainty, "imported_by": r.name, "imported_at": r.imported_at,
             "structures": [entry["structure"] for entry in json.loads(r.import_json)["structures"]]}
            for r in conn.execute(query)]


def record_open(store: ReviewStore, case_id: int, user_name: str) -> str | None:
    """Note that ``user_name`` opened case ``case_id`` in its current round, if they are to annotate it and had not
    yet; returns when they first opened it (None for users not annotating it now)."""
    with store.read() as conn:
        user = get_user(conn, user_name)
        case = get_case(conn, case_id)
        opened = opened_at(conn, case.id, user.id, case.round)
        if opened is not None or not _annotating(conn, case.id, user.id):
            return opened
    with store.write(user_name) as tx:
        case = get_case(tx.conn, case_id, lock=True)
        opened = opened_at(tx.conn, case.id, user.id, case.round)
        if opened is not None or not _annotating(tx.conn, case.id, user.id):
            return opened
        tx.conn.execute(insert(case_opens).values(case_id=case.id, user_id=user.id, round=case.round,
                                                  opened_at=tx.now))
        tx.record("case.open", project=case_project(tx.conn, case).name, case=case.id,
                  details={"round": case.round})
        return tx.now


def opened_at(conn: Connection, case_id: int, user_id: int, round: int) -> str | None:
    """When the user first opened the case in ``round`` (None: not recorded)."""
    return conn.execute(select(case_opens.c.opened_at).where(
        case_opens.c.case_id == case_id, case_opens.c.user_id == user_id, case_opens.c.round == round)).scalar()


def _annotating(conn: Connection, case_id: int, user_id: int) -> bool:
    return bool(conn.execute(select(exists().where(and_(
        assignments.c.case_id == case_id, assignments.c.user_id == user_id, assignments.c.is_open)))).scalar())


def latest_uncertainty(case_column):
    """The uncertainty of a case's latest draft, as a scalar subquery for ordering queues (NULL: none)."""
    return (select(drafts.c.uncertainty).where(drafts.c.case_id == case_column)
            .order_by(drafts.c.id.desc()).limit(1).scalar_subquery())
