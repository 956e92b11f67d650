"""The review store's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Times are ISO 8601 UTC strings written by the application, not database clock values, so
that an audit record hashes to the same value on every backend and after every round trip.

A few columns repeat what other rows imply, so that the queues are one index seek with
100,000 cases: ``cases.assigned_count``/``claimable``/``waiting_for`` and
``assignments.is_open``/``priority``. They are written only by the workflow's one
state-setting function, in the same transaction as the rows they summarise.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

ROLES = ("annotator", "reviewer", "radiologist", "lead")
STATES = ("new", "assigned", "in_progress", "submitted", "in_review", "changes_requested", "approved", "final")
DECISIONS = ("approve", "changes")

metadata = MetaData()
_TIME = String(32)
_HASH = String(64)


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    return CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=f"ck_{column}_valid")


schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", _TIME, nullable=False),
    Column("description", Text, nullable=False),
)

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("created_at", _TIME, nullable=False),
    # schema version 3: identity (server/identity.py). The printed name goes into signatures; the
    # password only as its argon2id hash; failed sign-ins count towards a lock with back-off.
    Column("full_name", Text),
    Column("password_hash", Text),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", _TIME),
)

#: Sign-in sessions (schema version 3): the token itself is never stored, only its SHA-256.
sessions = Table(
    "sessions", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("token_sha256", _HASH, nullable=False, unique=True),
    Column("created_at", _TIME, nullable=False),
    Column("expires_at", _TIME, nullable=False),
    Column("revoked_at", _TIME),
)

user_roles = Table(
    "user_roles", metadata,
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("role", String(16), primary_key=True),
    Column("granted_at", _TIME, nullable=False),
    _one_of("role", ROLES),
)

projects = Table(
    "projects", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("protocol_id", String(64), nullable=False),
    Column("protocol_version", String(32), nullable=False),
    Column("protocol_sha256", _HASH, nullable=False),
    # The protocol as it was when the project was created: review tiers and consensus
    # settings come from here, so editing the protocol file later cannot change a project.
    Column("protocol_json", Text, nullable=False),
    Column("annotators_per_case", Integer, nullable=False),
    Column("created_at", _TIME, nullable=False),
    Column("created_by", ForeignKey("users.id"), nullable=False),
    CheckConstraint("annotators_per_case >= 1", name="ck_annotators_per_case"),
)

cases = Table(
    "cases", metadata,
    Column("id", Integer, primary_key=True),  # also the order in which cases were added
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("study_uid", String(64), nullable=False),
    Column("series_uid", String(64), nullable=False),
    Column("modality", String(16), nullable=False),
    Column("image_location", Text, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("state", String(24), nullable=False),
    Column("tier", Integer, nullable=False),  # 1-based review tier while in_review, else 0
    Column("round", Integer, nullable=False),  # 1, then +1 each time changes are requested
    Column("assigned_count", Integer, nullable=False),
    Column("claimable", Boolean, nullable=False),  # open for annotators and below its quota
    Column("waiting_for", String(16)),  # the role whose queue holds the case now (None: annotators)
    Column("added_at", _TIME, nullable=False),
    UniqueConstraint("project_id", "series_uid", name="uq_case_series"),
    CheckConstraint("assigned_count >= 0", name="ck_assigned_count"),
    _one_of("state", STATES),
    Index("ix_cases_state", "project_id", "state"),
)

assignments = Table(
    "assignments", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    # Slot k of the case's quota: a second writer taking the same slot fails on the unique
    # constraint even if locking were ever bypassed, so a case can never exceed its quota.
    Column("slot", Integer, nullable=False),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("is_open", Boolean, nullable=False),  # the annotator owes a submission in the current round
    Column("assigned_at", _TIME, nullable=False),
    Column("assigned_by", ForeignKey("users.id"), nullable=False),
    UniqueConstraint("case_id", "user_id", name="uq_assignment_user"),
    UniqueConstraint("case_id", "slot", name="uq_assignment_slot"),
    CheckConstraint("slot >= 1", name="ck_slot"),
)

# The queues read "highest priority, then earliest added": the indexes hold that order.
Index("ix_cases_claim", cases.c.project_id, cases.c.claimable, cases.c.priority.desc(), cases.c.id)
Index("ix_cases_waiting", cases.c.project_id, cases.c.waiting_for, cases.c.priority.desc(), cases.c.id)
Index("ix_assignments_queue", assignments.c.user_id, assignments.c.project_id, assignments.c.is_open,
      assignments.c.priority.desc(), assignments.c.case_id)

submissions = Table(
    "submissions", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("round", Integer, nullable=False),
    Column("seg_path", Text),  # none for protocols of landmarks, boxes and labels only (schema version 2)
    Column("seg_sha256", _HASH),
    Column("sr_path", Text),
    Column("sr_sha256", _HASH),
    Column("submitted_at", _TIME, nullable=False),
    # schema version 4: when the annotator first opened (fetched) the case in this round, if they did
    Column("opened_at", _TIME),
    UniqueConstraint("case_id", "user_id", "round", name="uq_submission_round"),
    CheckConstraint("seg_path IS NOT NULL OR sr_path IS NOT NULL", name="ck_submission_files"),
)

consensus = Table(
    "consensus", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("round", Integer, nullable=False),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("method", String(16), nullable=False),
    Column("threshold", String(16), nullable=False),
    Column("output_path", Text, nullable=False),
    Column("output_sha256", _HASH, nullable=False),
    Column("output_kind", String(8), nullable=False, server_default="seg"),  # seg or sr (schema version 2)
    Column("sr_path", Text),  # beside a consensus SEG: the consensus SR (schema version 2)
    Column("sr_sha256", _HASH),
    Column("agreement_json", Text),  # the `agreement --json` report of the round's submissions
    Column("created_at", _TIME, nullable=False),
    UniqueConstraint("case_id", "round", name="uq_consensus_round"),
)

reviews = Table(
    "reviews", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("round", Integer, nullable=False),
    Column("tier", Integer, nullable=False),
    Column("tier_name", Text, nullable=False),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("comment", Text),
    Column("reviewed_at", _TIME, nullable=False),
    UniqueConstraint("case_id", "round", "tier", name="uq_review_tier"),
    _one_of("decision", DECISIONS),
)

signatures = Table(
    "signatures", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("meaning", Text, nullable=False),
    Column("signed_at", _TIME, nullable=False),
    Column("result_path", Text, nullable=False),
    Column("result_sha256", _HASH, nullable=False),
    Column("printed_name", Text),  # schema version 3: the signer's full name as printed (21 CFR 11.50)
)

#: The image files of cases added through a team server (schema version 3), kept in its file store.
case_images = Table(
    "case_images", metadata,
    Column("case_id", ForeignKey("cases.id"), primary_key=True),
    Column("name", Text, primary_key=True),
    Column("sha256", _HASH, nullable=False),
)

#: AI drafts (schema version 4): a model's output made a SEG of the protocol's structures (Segment Algorithm Type
#: AUTOMATIC), kept in the file store. A case may get drafts of several models; annotators start from the latest.
drafts = Table(
    "drafts", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("algorithm", String(64), nullable=False),
    Column("algorithm_version", String(64), nullable=False),
    Column("segmentation_type", String(16), nullable=False),  # BINARY, or FRACTIONAL for probabilities
    Column("seg_path", Text, nullable=False),
    Column("seg_sha256", _HASH, nullable=False),
    Column("source_sha256", _HASH, nullable=False),  # the model's output file it was made from
    Column("import_json", Text, nullable=False),  # canonical JSON: the source, the label mapping, the uncertainty
    Column("uncertainty", Float),  # mean entropy (bits) inside the predicted structures; probability maps only
    Column("imported_by", ForeignKey("users.id"), nullable=False),
    Column("imported_at", _TIME, nullable=False),
    _one_of("segmentation_type", ("BINARY", "FRACTIONAL")),
)
Index("ix_drafts_case", drafts.c.case_id, drafts.c.id)

#: How a submission differs from the draft it started from, per structure of the draft (schema version 4).
draft_corrections = Table(
    "draft_corrections", metadata,
    Column("id", Integer, primary_key=True),
    Column("submission_id", ForeignKey("submissions.id"), nullable=False),
    Column("draft_id", ForeignKey("drafts.id"), nullable=False),
    Column("structure", Text, nullable=False),
    Column("draft_voxels", Integer, nullable=False),
    Column("result_voxels", Integer, nullable=False),
    Column("voxels_added", Integer, nullable=False),  # in the submission, not in the draft
    Column("voxels_removed", Integer, nullable=False),  # in the draft, not in the submission
    Column("dice", Float, nullable=False),
    Column("hd95_mm", Float),  # undefined (NULL) when the draft or the submission is empty
    UniqueConstraint("submission_id", "structure", name="uq_correction_structure"),
)

#: When an annotator first opened (fetched) a case in a round (schema version 4): the start of their work on it.
case_opens = Table(
    "case_opens", metadata,
    Column("case_id", ForeignKey("cases.id"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("round", Integer, primary_key=True, autoincrement=False),
    Column("opened_at", _TIME, nullable=False),
)

audit_log = Table(
    "audit_log", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", _TIME, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("project", String(128)),
    Column("case_id", Integer),
    Column("reason", Text),
    Column("details", Text, nullable=False),  # canonical JSON
    Column("files", Text, nullable=False),  # canonical JSON: [{"role", "path", "sha256"}]
    Column("prev_hash", _HASH, nullable=False),
    Column("hash", _HASH, nullable=False),
)

# One row (id 1): the last record's number and hash. Appends lock it, so records are numbered
# without gaps even on PostgreSQL, and deleting the newest records is detected.
audit_head = Table(
    "audit_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", _HASH, nullable=False),
)
