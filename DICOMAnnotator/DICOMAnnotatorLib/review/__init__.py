"""Review store: projects, cases, users and roles, assignments, submissions, multi-tier review,
electronic sign-off and a hash-chained audit log, on SQLite (default) or PostgreSQL.

Public API::

    from DICOMAnnotatorLib import review
    with review.ReviewStore("sqlite:///review.db") as store:    # or postgresql://..., or None
        review.add_user(store, "lead", ["lead"], actor=None)    # the first user adds themself
        review.next_case(store, "liver", "alice", claim=True)   # "my next case"
        review.submit(store, case_id, "alice", "alice.seg.dcm")
        with store.read() as conn:
            review.verify_chain(conn).intact
"""

from .assignment import Assignment, assign_cases
from .audit import ChainReport, FileRecord, export_log, verify_chain
from .cases import Case, SeriesRef, add_cases
from .errors import (
    AlreadyExistsError,
    EmptyQueueError,
    IllegalTransitionError,
    NotFoundError,
    PermissionDeniedError,
    QuotaError,
    ReviewError,
    SelfReviewError,
    StoreError,
    SubmissionFileError,
)
from .projects import Project, create_project
from .queues import NextCase, next_case
from .reports import project_status, show_case
from .states import TRANSITIONS, Action, CaseState
from .store import ReviewStore
from .url import resolve_store_url
from .users import User, add_user
from .workflow import Signature, finalize_case, record_consensus, review_case, submit

__all__ = [
    "TRANSITIONS",
    "Action",
    "AlreadyExistsError",
    "Assignment",
    "Case",
    "CaseState",
    "ChainReport",
    "EmptyQueueError",
    "FileRecord",
    "IllegalTransitionError",
    "NextCase",
    "NotFoundError",
    "PermissionDeniedError",
    "Project",
    "QuotaError",
    "ReviewError",
    "ReviewStore",
    "SelfReviewError",
    "SeriesRef",
    "Signature",
    "StoreError",
    "SubmissionFileError",
    "User",
    "add_cases",
    "add_user",
    "assign_cases",
    "create_project",
    "export_log",
    "finalize_case",
    "next_case",
    "project_status",
    "record_consensus",
    "resolve_store_url",
    "review_case",
    "show_case",
    "submit",
    "verify_chain",
]
