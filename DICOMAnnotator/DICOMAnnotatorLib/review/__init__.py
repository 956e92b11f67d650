"""Review store: projects, cases, users and roles, assignments, submissions, multi-tier review,
electronic sign-off, AI drafts and how annotators corrected them, and a hash-chained audit log, on
SQLite (default) or PostgreSQL.

Public API::

    from DICOMAnnotatorLib import review
    with review.ReviewStore("sqlite:///review.db") as store:    # or postgresql://..., or None
        review.add_user(store, "lead", ["lead"], actor=None)    # the first user adds themself
        review.next_case(store, "liver", "alice", claim=True)   # "my next case"
        review.submit(store, case_id, "alice", "alice.seg.dcm")
        with store.read() as conn:
            review.verify_chain(conn).intact

"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "assignment": ["Assignment", "assign_cases"],
    "audit": ["ChainReport", "FileRecord", "export_log", "verify_chain"],
    "cases": ["Case", "SeriesRef", "add_cases"],
    "consensus_step": ["write_consensus_sr"],
    "corrections": ["project_corrections"],
    "draft_evaluation": ["evaluate_drafts"],
    "drafts": ["case_drafts", "import_draft", "latest_draft", "record_open"],
    "errors": [
        "AlreadyExistsError",
        "AuthenticationError",
        "EmptyQueueError",
        "IllegalTransitionError",
        "NotFoundError",
        "PermissionDeniedError",
        "QuotaError",
        "ReviewError",
        "SelfReviewError",
        "StoreError",
        "SubmissionFileError",
    ],
    "files": ["submitted_files"],
    "identity": [
        "DEFAULT_SESSION_TTL",
        "Session",
        "audit_refusal",
        "has_password",
        "list_users",
        "login",
        "password_problem",
        "revoke_session",
        "session_user",
        "set_password",
        "unlock",
        "verify_password",
    ],
    "projects": ["Project", "create_project", "project_protocol"],
    "queues": ["NextCase", "QUEUE_ORDERS", "next_case"],
    "reports": ["audit_details", "project_status", "show_case", "signed_cases", "signed_result_files"],
    "sample_project": ["create_sample_project"],
    "fetched": ["safe_name", "write_fetched"],
    "service": ["LocalService"],
    "states": ["Action", "CaseState", "TRANSITIONS"],
    "store": ["SYSTEM_ACTOR", "ReviewStore", "utc_now"],
    "stored_files": ["FileStore", "sha256_of"],
    "url": ["STORE_ENV", "resolve_store_url"],
    "users": ["User", "add_user", "get_user"],
    "workflow": ["Signature", "finalize_case", "record_consensus", "review_case", "submit"],
})
