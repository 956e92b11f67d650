"""Errors of the review store; each names the case, user or project and what to do.

Every one is raised before anything is written (or inside the transaction that is then
rolled back), so an action that fails changes nothing in the store.
"""

from __future__ import annotations

from ..errors import DICOMAnnotatorError


class ReviewError(DICOMAnnotatorError):
    """Base class of the review store's errors."""


class StoreError(ReviewError):
    """The store cannot be opened or used (bad URL, unreachable server, newer schema)."""


class NotFoundError(ReviewError):
    """A user, project or case named in a command does not exist."""


class AlreadyExistsError(ReviewError):
    """A user, project, role or case (series) is already in the store."""


class IllegalTransitionError(ReviewError):
    """The case's state does not allow this action."""


class PermissionDeniedError(ReviewError):
    """The acting user lacks the role, or acts outside their part of the case."""


class AuthenticationError(PermissionDeniedError):
    """A sign-in, a session token or a signature's password was not accepted (the message never says which
    part was wrong)."""


class SelfReviewError(PermissionDeniedError):
    """A user tried to review, merge or sign their own work."""


class QuotaError(ReviewError):
    """A case already has all the annotators its project asks for."""


class EmptyQueueError(ReviewError):
    """There is no case for this user to work on now."""


class SubmissionFileError(ReviewError):
    """A submitted file is missing, not the expected DICOM object, or changed since it was recorded."""
