"""Cases from the review store worked on in a MRML scene: the annotator's and the reviewer's desks.

The Slicer modules' Logic classes hand their calls to these two classes, so that the whole
flow (next case, protocol, drafts, SEG + SR submission, consensus, review, sign-off, export)
runs, and is tested, headless on ``slicer-core`` with a real store. Files go under a work
folder: ``drafts/``, ``submissions/`` and ``reviews/``, one subfolder per case.

One case is open at a time: its nodes live in its subject-hierarchy folder and leave the scene
when it closes (:meth:`close_case`, a submission, or the next case), and a case that fails to
open leaves nothing behind, so the scene never holds another case's segments or marks.
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
from .hierarchy import remove_nodes
from .marks_review import MarksReviewSession
from .review import ReviewSession

#: Gives the volume node of a case's series (e.g. loaded from Slicer's DICOM database), or None.
#: The volume belongs to the case: it leaves the scene when the case closes.
VolumeLoader = Callable[[review.Case], Any]


class _Desk:
    """What both desks share: the store, the user, the work folder and the one open case."""

    def __init__(self, scene, store_url: str | None, user: str, work_folder: str | os.PathLike[str]) -> None:
        self.scene, self.user, self.work = scene, user, Path(work_folder)
        self.store = review.ReviewStore(store_url)
        self.case: review.Case | None = None
        self.session = None

    def close_case(self) -> None:
        """Remove the open case's nodes from the scene (an annotator keeps a draft first: :meth:`save_draft`)."""
        if self.session is not None:
            self.session.close()
        self.case, self.session = None, None

    def _require_case(self) -> review.Case:
        if self.case is None:
            raise InputError("Open a case first (next case)")
        return self.case

    def _require_session(self):
        self._require_case()
        return self.session

    def _open(self, case: review.Case, load_volume: VolumeLoader | None, create: Callable[[Any], Any],
              prepare: Callable[[Any], None]):
        """Open ``case``: ``create(volume)`` its session, then ``prepare(session)``; on failure nothing stays."""
        volume = load_volume(case) if load_volume is not None else None
        try:
            session = create(volume)
        except BaseException:
            if volume is not None:
                remove_nodes(self.scene, [volume])
            raise
        try:
            prepare(session)
        except BaseException:
            session.close()
            raise
        self.case, self.session = case, session
        return session


def case_folder_name(case: review.Case) -> str:
    """The name of a case's subject-hierarchy folder."""
    return f"Case {case.id} (round {case.round})"


class AnnotatorDesk(_Desk):
    """An annotator's cases: the next one opened as an :class:`AnnotationSession`, drafts kept, work submitted."""

    session: AnnotationSession | None

    def open_next_case(self, project: str, load_volume: VolumeLoader | None = None) -> AnnotationSession:
        """Claim or reopen the user's most urgent case, apply its protocol and resume its draft if there is one.

        A case still open is kept as a draft and closed first. ``load_volume(case)`` may give the
        case's volume node (Slicer loads it from its DICOM database); otherwise the core reads the
        series from the case's image location.
        """
        if self.session is not None:
            self.save_draft()
            self.close_case()
        found = review.next_case(self.store, project, self.user, claim=True)
        if found.action != "annotate":
            raise InputError(f"The next case for {self.user} in {project} is waiting for '{found.action}', "
                             "which is done in the DICOMAnnotatorReview module")
        with self.store.read() as conn:
            protocol = project_protocol(conn, project)
        series = ReferenceSeries.from_paths(found.case.image_location, series_uid=found.case.series_uid)

        def prepare(session: AnnotationSession) -> None:
            session.apply_protocol()
            draft = session.files_in(self._folder("drafts", found.case), "draft")
            if draft.annotations.exists():
                session.resume_draft(draft)

        return self._open(found.case, load_volume, lambda volume: AnnotationSession(
            self.scene, series, protocol, user=self.user, volume_node=volume, owns_volume=True,
            name=case_folder_name(found.case)), prepare)

    def save_draft(self) -> SubmissionFiles:
        """Keep the work so far (also what to do before the scene closes)."""
        return self._require_session().save_draft(self._folder("drafts", self.case))

    def submit(self) -> tuple[SubmissionFiles, Path, review.Case]:
        """Write the SEG and its TID 1500 SR (measurements, labels, marks), record them in the store and close
        the case.

        A protocol of landmarks, boxes and labels only has no SEG: the SR alone is submitted.
        """
        session = self._require_session()
        files = session.submit(self._folder("submissions", self.case) / f"round-{self.case.round}")
        sr_path = files.seg.with_name(files.seg.stem + "-sr.dcm")
        write_sr(measurement_report(session, files), sr_path)
        seg = files.seg if session.protocol.segment_structures else None
        case = review.submit(self.store, self.case.id, self.user, seg, sr_path)
        draft = self._draft_files()
        for path in (draft.seg, draft.annotations):
            path.unlink(missing_ok=True)
        self.close_case()
        return files, sr_path, case

    def _folder(self, kind: str, case: review.Case) -> Path:
        return self.work / kind / f"case-{case.id}"

    def _draft_files(self) -> SubmissionFiles:
        return self.session.files_in(self._folder("drafts", self.case), "draft")


class ReviewerDesk(_Desk):
    """A reviewer's, radiologist's or lead's cases: compare, merge, review, sign, export."""

    session: ReviewSession | MarksReviewSession | None

    def __init__(self, scene, store_url: str | None, user: str, work_folder: str | os.PathLike[str]) -> None:
        super().__init__(scene, store_url, user, work_folder)
        self.action: str | None = None

    def open_next_case(self, project: str, load_volume: VolumeLoader | None = None) -> ReviewSession:
        """The user's most urgent case with this round's submissions (and its consensus once recorded).

        A case still open is closed first; ``load_volume`` as for :meth:`AnnotatorDesk.open_next_case`.
        """
        self.close_case()
        found = review.next_case(self.store, project, self.user)
        shown = review.show_case(self.store, found.case.id, self.user)
        submitted = [s for s in shown["submissions"] if s["round"] == found.case.round]
        series = ReferenceSeries.from_paths(found.case.image_location, series_uid=found.case.series_uid)
        recorded = [c for c in shown["consensus"] if c["round"] == found.case.round]
        options = {"reviewer": self.user, "owns_volume": True, "name": case_folder_name(found.case)}
        if all(s["seg"] is None for s in submitted):  # landmarks, boxes and labels only: the SRs
            with self.store.read() as conn:
                protocol = project_protocol(conn, project)
            submissions, kind = [(s["user"], s["sr"]) for s in submitted], "sr"

            def create(volume):
                return MarksReviewSession(self.scene, series, submissions, protocol=protocol, volume_node=volume,
                                          **options)
        else:
            submissions, kind = [(s["user"], s["seg"]) for s in submitted], "seg"

            def create(volume):
                return ReviewSession(self.scene, series, submissions, volume_node=volume, **options)

        def prepare(session) -> None:
            if recorded:
                session.load_consensus(recorded[-1][kind])

        session = self._open(found.case, load_volume, create, prepare)
        self.action = found.action
        return session

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
