"""Projects: a protocol (frozen as it was at creation) and how many annotators each case gets."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from ..protocols import AnnotationKind, Protocol, ReviewRole, ReviewTier
from .audit import canonical_json
from .errors import AlreadyExistsError, NotFoundError, ReviewError
from .schema import projects
from .store import ReviewStore
from .users import acting_lead


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    protocol_id: str
    protocol_version: str
    annotators_per_case: int
    review_tiers: tuple[ReviewTier, ...]
    consensus_method: str
    consensus_threshold: float

    def tier(self, number: int) -> ReviewTier:
        """Review tier ``number`` (1-based)."""
        return self.review_tiers[number - 1]

    @property
    def first_queue_role(self) -> ReviewRole:
        """Whose queue a case enters when its consensus is due: the first tier's, if it can merge."""
        if self.review_tiers and self.review_tiers[0].role in (ReviewRole.REVIEWER, ReviewRole.RADIOLOGIST):
            return self.review_tiers[0].role
        return ReviewRole.REVIEWER

    def to_json(self) -> dict[str, Any]:
        return {"project": self.name, "protocol": {"id": self.protocol_id, "version": self.protocol_version},
                "annotators_per_case": self.annotators_per_case,
                "review_tiers": [{"tier": k, "name": t.name, "role": t.role.value}
                                 for k, t in enumerate(self.review_tiers, start=1)],
                "consensus": {"method": self.consensus_method, "threshold": self.consensus_threshold}}


def get_project(conn: Connection, name: str) -> Project:
    row = conn.execute(select(projects).where(projects.c.name == name)).one_or_none()
    if row is None:
        raise NotFoundError(f"No project {name!r} in the review store; a lead creates it with: "
                            f"project create {name} --protocol FILE|ID")
    return _project(row)


def project_protocol(conn: Connection, name: str) -> Protocol:
    """The protocol of project ``name`` as it was when the project was created (its frozen copy)."""
    row = conn.execute(select(projects.c.protocol_json).where(projects.c.name == name)).one_or_none()
    if row is None:
        get_project(conn, name)  # raises the NotFoundError that says how to create it
    return Protocol.from_dict(json.loads(row.protocol_json), source=f"project {name}", validated=True)


def protocol_has_volume_structures(conn: Connection, name: str) -> bool:
    """Whether project ``name``'s protocol has volume (or contour) structures, so that its submissions are SEGs.

    Read from the frozen copy without building the protocol: ``case submit`` asks on every call
    and the queue's latency budget has no room for a full protocol parse (2 ms).
    """
    row = conn.execute(select(projects.c.protocol_json).where(projects.c.name == name)).one()
    return any(AnnotationKind(s["kind"]).is_segment for s in json.loads(row.protocol_json)["structures"])


def project_by_id(conn: Connection, project_id: int) -> Project:
    return _project(conn.execute(select(projects).where(projects.c.id == project_id)).one())


def create_project(store: ReviewStore, name: str, protocol: Protocol, *, actor: str,
                   annotators_per_case: int | None = None) -> Project:
    """A new project on ``protocol``; annotators per case default to the protocol's."""
    name = name.strip()
    if not name or len(name) > 128 or not name.isprintable():
        raise ReviewError(f"Project name {name!r} must be 1 to 128 printable characters")
    count = protocol.annotators_per_case if annotators_per_case is None else annotators_per_case
    if count < 1:
        raise ReviewError(f"Project {name} needs at least 1 annotator per case, found {count}")
    snapshot = canonical_json(protocol.to_dict())
    digest = hashlib.sha256(snapshot.encode("utf-8")).hexdigest()
    with store.write(actor) as tx:
        lead = acting_lead(tx, f"create project {name}")
        if tx.conn.execute(select(projects.c.id).where(projects.c.name == name)).first() is not None:
            raise AlreadyExistsError(f"Project {name} already exists; choose another name")
        tx.conn.execute(insert(projects).values(
            name=name, protocol_id=protocol.id, protocol_version=protocol.version, protocol_sha256=digest,
            protocol_json=snapshot, annotators_per_case=count, created_at=tx.now, created_by=lead.id))
        tx.record("project.create", project=name, details={
            "protocol_id": protocol.id, "protocol_version": protocol.version, "protocol_sha256": digest,
            "annotators_per_case": count, "review_tiers": [t.name for t in protocol.review_tiers]})
        return get_project(tx.conn, name)


def _project(row: Any) -> Project:
    data = json.loads(row.protocol_json)
    consensus = data.get("consensus", {})
    return Project(
        id=row.id, name=row.name, protocol_id=row.protocol_id, protocol_version=row.protocol_version,
        annotators_per_case=row.annotators_per_case,
        review_tiers=tuple(ReviewTier(t["name"], ReviewRole(t["role"])) for t in data.get("review_tiers", ())),
        consensus_method=consensus.get("method", "majority"), consensus_threshold=consensus.get("threshold", 0.5),
    )
