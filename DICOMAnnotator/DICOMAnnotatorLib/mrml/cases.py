"""Cases from the review store worked on in a MRML scene: the annotator's and the reviewer's desks.

The Slicer modules' Logic classes hand their calls to these two classes, so that the whole
flow (next case, protocol, drafts, SEG + SR submission, consensus, review, sign-off, export)
runs, and is tested, headless on ``slicer-core`` with a real store. Files go under a work
folder: ``drafts/`` (the annotator's work in progress, not the AI drafts, which the store keeps),
``submissions/`` and ``reviews/``, one subfolder per case.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import review
from ..errors import InputError
from ..imaging import ReferenceSeries
from ..review import project_protocol
from ..sr import build_sr, read_labels, read_marks, write_sr
from .annotation import AnnotationSession, SubmissionFiles
from .marks_review import MarksReviewSession
from .review import ReviewSession

#: Gives the volume node of a case's series (e.g. loaded from Slicer's DICOM database), or None.
VolumeLoader = Callable[[review.Case], Any]


class AnnotatorDesk:
    """An annotator's cases: the next one opened as an :class:`AnnotationSession`, drafts kept, work submitted."""

    def __init__(self, scene, store_url: str | None, user: str, work_folder: str | os.PathLike[str]) -> None:
        self.scene, self.user, self.work = scene, user, Path(work_folder)
        self.store = review.ReviewStore(store_url)
        self.case: review.Case | None = None
        self.session: AnnotationSession | None = None

    def open_next_case(self, project: str, load_volume: VolumeLoader | None = None, *,
                       order: str = "priority") -> AnnotationSession:
        """Claim or reopen the user's most urgent case, apply its protocol and resume the user's work on it, or else
        start from the case's AI draft if it has one; the store notes when the user opened the case.

        ``load_volume(case)`` may give the case's volume node (Slicer loads it from its DICOM
        database); otherwise the core reads the series from the case's image location. ``order``
        ``uncertainty`` takes first the cases whose AI draft the model was least sure of.
        """
        found = review.next_case(self.store, project, self.user, claim=True, order=order)
        if found.action != "annotate":
            raise InputError(f"The next case for {self.user} in {project} is waiting for '{found.action}', "
                             "which is done in the DICOMAnnotatorReview module")
        with self.store.read() as conn:
            protocol = project_protocol(conn, project)
        series = ReferenceSeries.from_paths(found.case.image_location, series_uid=found.case.series_uid)
        self.case = found.case
        volume = load_volume(found.case) if load_volume is not None else None
        self.session = AnnotationSession(self.scene, series, protocol, user=self.user, volume_node=volume)
        self.session.apply_protocol()
        draft = self._draft_files()
        if draft.annotations.exists():
            self.session.resume_draft(draft)
        else:
            self._start_from_ai_draft()
        review.record_open(self.store, found.case.id, self.user)
        return self.session

    def _start_from_ai_draft(self) -> None:
        with self.store.read() as conn:
            drafted = review.latest_draft(conn, self.case.id)
        if drafted is not None:
            self.session.start_from_draft(self.store.files.open_verified(drafted.seg_sha256))

    def save_draft(self) -> SubmissionFiles:
        """Keep the work so far (also what to do before the scene closes)."""
        return self._require_session().save_draft(self._folder("drafts"))

    def submit(self) -> tuple[SubmissionFiles, Path, review.Case]:
        """Write the SEG and its TID 1500 SR (measurements, labels, marks) and record them in the store.

        A protocol of landmarks, boxes and labels only has no SEG: the SR alone is submitted.
        """
        session = self._require_session()
        files = session.submit(self._folder("submissions") / f"round-{self.case.round}")
        sr_path = files.seg.with_name(files.seg.stem + "-sr.dcm")
        write_sr(measurement_report(session, files), sr_path)
        seg = files.seg if session.protocol.segment_structures else None
        case = review.submit(self.store, self.case.id, self.user, seg, sr_path)
        draft = self._draft_files()
        for path in (draft.seg, draft.annotations):
            path.unlink(missing_ok=True)
        return files, sr_path, case

    def _require_session(self) -> AnnotationSession:
        if self.session is None or self.case is None:
            raise InputError("Open a case first (next case)")
        return self.session

    def _folder(self, kind: str) -> Path:
        return self.work / kind / f"case-{self.case.id}"

    def _draft_files(self) -> SubmissionFiles:
        return self.session.files_in(self._folder("drafts"), "draft")


class ReviewerDesk:
    """A reviewer's, radiologist's or lead's cases: compare, merge, review, sign, export."""

    def __init__(self, scene, store_url: str | None, user: str, work_folder: str | os.PathLike[str]) -> None:
        self.scene, self.user, self.work = scene, user, Path(work_folder)
        self.store = review.ReviewStore(store_url)
        self.case: review.Case | None = None
        self.action: str | None = None
        self.session: ReviewSession | None = None

    def open_next_case(self, project: str, load_volume: VolumeLoader | None = None) -> ReviewSession:
        """The user's most urgent case with this round's submissions (and its consensus once recorded)."""
        found = review.next_case(self.store, project, self.user)
        shown = review.show_case(self.store, found.case.id, self.user)
        submitted = [s for s in shown["submissions"] if s["round"] == found.case.round]
        series = ReferenceSeries.from_paths(found.case.image_location, series_uid=found.case.series_uid)
        self.case, self.action = found.case, found.action
        volume = load_volume(found.case) if load_volume is not None else None
        recorded = [c for c in shown["consensus"] if c["round"] == found.case.round]
        if all(s["seg"] is None for s in submitted):  # landmarks, boxes and labels only: the SRs
            with self.store.read() as conn:
                protocol = project_protocol(conn, project)
            self.session = MarksReviewSession(self.scene, series, [(s["user"], s["sr"]) for s in submitted],
                                              reviewer=self.user, protocol=protocol, volume_node=volume)
            if recorded:
                self.session.load_consensus(recorded[-1]["sr"])
            return self.session
        self.session = ReviewSession(self.scene, series, [(s["user"], s["seg"]) for s in submitted],
                                     reviewer=self.user, volume_node=volume)
        if recorded:
            self.session.load_consensus(recorded[-1]["seg"])
        return self.session

    def record_consensus(self, method: str | None = None) -> review.Case:
        """Write the consensus as the reviewer left it (built with ``method`` if not built yet) and record it."""
        session = self._require_session()
        if isinstance(session, MarksReviewSession):  # the core merges the submitted SRs
            self.case = review.record_consensus(self.store, self.case.id, self.user)
            shown = review.show_case(self.store, self.case.id, self.user)
            session.load_consensus([c for c in shown["consensus"] if c["round"] == self.case.round][-1]["sr"])
            return self.case
        if session.consensus_node is None:
            session.build_consensus(method or "staple")
        method = method or session.consensus_method
        folder = self.work / "reviews" / f"case-{self.case.id}" / f"round-{self.case.round}"
        written = session.export(folder, ("seg",))
        self.case = review.record_consensus(self.store, self.case.id, self.user, method=method,
                                            consensus_seg=written["seg"], agreement=session.agreement().to_json())
        return self.case

    def approve(self, comment: str | None = None) -> review.Case:
        self.case = review.review_case(self.store, self._require_case().id, self.user, "approve", comment)
        return self.case

    def request_changes(self, comment: str) -> review.Case:
        self.case = review.review_case(self.store, self._require_case().id, self.user, "changes", comment)
        return self.case

    def sign(self, meaning: str) -> review.Signature:
        return review.finalize_case(self.store, self._require_case().id, self.user, meaning)

    def _require_case(self) -> review.Case:
        if self.case is None:
            raise InputError("Open a case first (next case)")
        return self.case

    def _require_session(self) -> ReviewSession:
        self._require_case()
        return self.session


def measurement_report(session: AnnotationSession, files: SubmissionFiles):
    """The TID 1500 SR of a submission: each segment measured, with its labels and marks from the session
    (only the labels and marks for a protocol without volume structures)."""
    import pydicom

    from ..seg import read_seg
    from ..sr import measure_segmentation

    marks = read_marks(files.annotations, session.series, session.protocol)
    if not session.protocol.segment_structures:
        return build_sr(None, None, [], labels=read_labels(files.annotations, [], marks, session.protocol),
                        marks=marks, creator=session.user, protocol_id=session.protocol.id, reference=session.series)
    segmentation = read_seg(files.seg, session.series)
    labels = read_labels(files.annotations, segmentation.segments, marks, session.protocol)
    measured = measure_segmentation(segmentation, session.series.read_voxels())
    return build_sr(segmentation, pydicom.dcmread(files.seg, stop_before_pixels=True), measured, labels=labels,
                    marks=marks, creator=session.user, protocol_id=session.protocol.id)
