"""Cases from the review store worked on in a MRML scene: the annotator's and the reviewer's desks.

The Slicer modules' Logic classes (and the web app) hand their calls to these two classes, so
that the whole flow (next case, protocol, drafts, SEG + SR submission, consensus, review,
sign-off, export) runs, and is tested, headless on ``slicer-core`` with a real store. A desk
works through a review service (``server.connect``): a database opened here (local mode) or a
team server, whose case images and files it fetches into its work folder, checksums verified.
Files go under the work folder: ``cases/`` (fetched), ``drafts/`` (the annotator's work in
progress, not the AI drafts, which the store keeps), ``submissions/`` and ``reviews/``, one
subfolder per case.

One case is open at a time: its nodes live in its subject-hierarchy folder and leave the scene
when it closes (:meth:`close_case`, a submission, or the next case), and a case that fails to
open leaves nothing behind, so the scene never holds another case's segments or marks.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import removed_on_failure
from ..errors import InputError
from ..imaging import PlanarSeries, ReferenceSeries, open_images
from ..protocols import Protocol
from ..review import CaseState
from ..server import connect
from ..sr import build_sr, read_labels, read_marks, write_sr
from .annotation import AnnotationSession, SubmissionFiles
from .hierarchy import remove_nodes
from .marks_review import MarksReviewSession
from .review import ReviewSession
from .surfaces import show_in_3d


@dataclass(frozen=True)
class CaseView:
    """A case as the service reports it, with its images where this machine can read them."""

    id: int
    state: CaseState
    round: int
    tier: int | None
    series_uid: str
    image_location: str

    @classmethod
    def from_json(cls, payload: dict[str, Any], images: str | os.PathLike[str] | None = None) -> CaseView:
        return cls(int(payload["case"]), CaseState(payload["state"]), int(payload.get("round") or 1),
                   payload.get("tier"), str(payload.get("series", "")), str(images or payload.get("images", "")))


@dataclass(frozen=True)
class SignatureView:
    """A signature as recorded: who (and the printed name), what it means, when, and the signed file."""

    case: int
    user: str
    name: str
    meaning: str
    signed_at: str
    sha256: str
    path: str


#: Gives the volume node of a case's series (e.g. loaded from Slicer's DICOM database), or None.
#: The volume belongs to the case: it leaves the scene when the case closes. Not asked for a case of 2D images or
#: cine loops, whose nodes the core makes as Slicer's DICOM plugins do (:mod:`.planar`).
VolumeLoader = Callable[[CaseView], Any]


class _Desk:
    """What both desks share: the service, the user, the work folder and the one open case.

    ``store`` is a database URL (local mode, ``user`` acts) or a team server's URL (``user`` must be the
    one logged in); ``service`` may be given instead, already connected.
    """

    def __init__(self, scene, store: str | None, user: str, work_folder: str | os.PathLike[str], *,
                 service: Any = None) -> None:
        self.scene, self.user, self.work = scene, user, Path(work_folder)
        self.service = service if service is not None else connect(store, user)
        self.case: CaseView | None = None
        self.session = None
        #: Whether segmentations show as closed surfaces in 3D views (:meth:`show_3d`), kept from case to case.
        self.shown_in_3d = False

    def _case_from(self, payload: dict[str, Any]) -> CaseView:
        """The case of a ``next``/``submit``/... answer, its images readable here (fetched from a team server
        once per case and round, checksums verified)."""
        images = payload.get("images")
        if self._remote:
            folder = self.work / "cases" / f"case-{payload['case']}" / f"round-{payload.get('round') or 1}"
            images = folder / "images" if folder.exists() else self.service.fetch_case(int(payload["case"]),
                                                                                         folder)["images"]
        return CaseView.from_json(payload, images)

    def _files(self, case_id: int) -> dict[tuple[str, str, int], Path]:
        """Every file of the case this user may see now, by (role, user, round), readable here."""
        if self._remote:
            folder = self.work / "cases" / f"case-{case_id}" / f"files-{secrets.token_hex(4)}"
            entries = self.service.fetch_case(case_id, folder)["files"]
        else:
            entries = self.service.case_files(case_id)["files"]
        return {(e["role"], e["user"], int(e["round"])): Path(e["path"]) for e in entries}

    @property
    def _remote(self) -> bool:
        from ..server import RemoteService

        return isinstance(self.service, RemoteService)

    def _protocol(self, project: str) -> Protocol:
        frozen = self.service.project_protocol(project)["protocol"]
        return Protocol.from_dict(frozen, source=f"project {project}'s protocol")

    def show_3d(self, shown: bool) -> None:
        """Show the open case's segmentations as closed surfaces in 3D views, or remove their surfaces, as
        Slicer's Show 3D button does; the cases opened next show the same. Surfaces are computed now and
        again only when a segmentation changes (a stroke applied), never while they are off."""
        self.shown_in_3d = bool(shown)
        if self.session is not None:
            show_in_3d(self.session.segmentation_nodes(), self.shown_in_3d)

    def close_case(self) -> None:
        """Remove the open case's nodes from the scene (an annotator keeps a draft first: :meth:`save_draft`)."""
        if self.session is not None:
            self.session.close()
        self.case, self.session = None, None

    def _require_case(self) -> CaseView:
        if self.case is None:
            raise InputError("Open a case first (next case)")
        return self.case

    def require_session(self):
        """The open case's session (annotation or review), for the panels that draw on it; refused without one."""
        self._require_case()
        return self.session

    def _open(self, case: CaseView, series: ReferenceSeries | PlanarSeries, load_volume: VolumeLoader | None,
              create: Callable[[Any], Any], prepare: Callable[[Any], None]):
        """Open ``case``: ``create(volume)`` its session, then ``prepare(session)``; on failure nothing stays."""
        volume = load_volume(case) if load_volume is not None and isinstance(series, ReferenceSeries) else None
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
        if self.shown_in_3d:
            show_in_3d(session.segmentation_nodes(), True)
        return session


def case_folder_name(case: CaseView) -> str:
    """The name of a case's subject-hierarchy folder."""
    return f"Case {case.id} (round {case.round})"


class AnnotatorDesk(_Desk):
    """An annotator's cases: the next one opened as an :class:`AnnotationSession`, drafts kept, work submitted."""

    session: AnnotationSession | None

    def open_next_case(self, project: str, load_volume: VolumeLoader | None = None, *,
                       order: str = "priority") -> AnnotationSession:
        """Claim or reopen the user's most urgent case, apply its protocol and resume the user's work on it, or else
        start from the case's AI draft if it has one; the store notes when the user opened the case.

        A case still open is kept as a draft and closed first. ``load_volume(case)`` may give the
        case's volume node (Slicer loads it from its DICOM database); otherwise the core reads the
        series from the case's image location. ``order`` ``uncertainty`` takes first the cases whose
        AI draft the model was least sure of.
        """
        if self.session is not None:
            self.save_draft()
            self.close_case()
        found = self.service.next_case(project, claim=True, order=order)
        if found["action"] != "annotate":
            raise InputError(f"The next case for {self.user} in {project} is waiting for '{found['action']}', "
                             "which is done in the DICOMAnnotatorReview module")
        return self._open_annotation(project, found, load_volume)

    def open_case(self, case_id: int, load_volume: VolumeLoader | None = None) -> AnnotationSession:
        """Open one case by its number, as :meth:`open_next_case` opens the most urgent one.

        The service decides whether the user may: a case not assigned to an annotator is refused there
        (and the refusal audited), and nothing is opened.
        """
        shown = self.service.show_case(case_id)
        return self._open_annotation(shown["project"], shown, load_volume)

    def _open_annotation(self, project: str, found: dict[str, Any],
                         load_volume: VolumeLoader | None) -> AnnotationSession:
        if self.session is not None:
            self.save_draft()
            self.close_case()
        protocol = self._protocol(project)
        case = self._case_from(found)
        series = open_images(case.image_location, series_uid=case.series_uid)

        def prepare(session: AnnotationSession) -> None:
            session.apply_protocol()
            draft = session.files_in(self._folder("drafts", case), "draft")
            if draft.annotations.exists():
                session.resume_draft(draft)
            else:
                self._start_from_ai_draft(session, case)
            self.service.open_case(case.id)

        return self._open(case, series, load_volume, lambda volume: AnnotationSession(
            self.scene, series, protocol, user=self.user, volume_node=volume, owns_volume=True,
            name=case_folder_name(case)), prepare)

    def _start_from_ai_draft(self, session: AnnotationSession, case: CaseView) -> None:
        """Load the case's latest AI draft (fetched with the case's files) as the starting segmentation."""
        drafts = [path for (role, _user, _round), path in self._files(case.id).items() if role == "draft"]
        if drafts:
            session.start_from_draft(drafts[-1])

    def save_draft(self) -> SubmissionFiles:
        """Keep the work so far (also what to do before the scene closes)."""
        return self.require_session().save_draft(self._folder("drafts", self.case))

    def submit(self) -> tuple[SubmissionFiles, Path, CaseView]:
        """Write the SEG and its TID 1500 SR (measurements, labels, marks), record them in the store and close
        the case.

        A protocol of landmarks, boxes and labels only has no SEG: the SR alone is submitted.
        """
        session = self.require_session()
        files = session.submit(self._folder("submissions", self.case) / f"round-{self.case.round}")
        sr_path = files.seg.with_name(files.seg.stem + "-sr.dcm")
        with removed_on_failure(files.seg, files.annotations, sr_path):
            write_sr(measurement_report(session, files), sr_path)
            seg = files.seg if session.protocol.segment_structures else None
            case = CaseView.from_json(self.service.submit(self.case.id, seg, sr_path), self.case.image_location)
        draft = self._draft_files()
        for path in (draft.seg, draft.annotations):
            path.unlink(missing_ok=True)
        self.close_case()
        return files, sr_path, case

    def _folder(self, kind: str, case: CaseView) -> Path:
        return self.work / kind / f"case-{case.id}"

    def _draft_files(self) -> SubmissionFiles:
        return self.session.files_in(self._folder("drafts", self.case), "draft")


class ReviewerDesk(_Desk):
    """A reviewer's, radiologist's or lead's cases: compare, merge, review, sign, export."""

    session: ReviewSession | MarksReviewSession | None

    def __init__(self, scene, store: str | None, user: str, work_folder: str | os.PathLike[str], *,
                 service: Any = None) -> None:
        super().__init__(scene, store, user, work_folder, service=service)
        self.action: str | None = None

    def open_next_case(self, project: str, load_volume: VolumeLoader | None = None) -> ReviewSession:
        """The user's most urgent case with this round's submissions (and its consensus once recorded).

        A case still open is closed first; ``load_volume`` as for :meth:`AnnotatorDesk.open_next_case`.
        """
        self.close_case()
        found = self.service.next_case(project)
        return self._open_review(project, found, self.service.show_case(int(found["case"])), load_volume,
                                 found["action"])

    def open_case(self, case_id: int, load_volume: VolumeLoader | None = None) -> ReviewSession:
        """Open one case by its number to compare, merge, review or sign, as :meth:`open_next_case` does.

        The service decides what the user may see and do: an annotator sees only their own submission
        (until the case is final), and the server refuses their review, consensus or signature.
        """
        self.close_case()
        shown = self.service.show_case(case_id)
        return self._open_review(shown["project"], shown, shown, load_volume, shown["state"])

    def _open_review(self, project: str, found: dict[str, Any], shown: dict[str, Any],
                     load_volume: VolumeLoader | None, action: str) -> ReviewSession:
        case = self._case_from(found)
        files = self._files(case.id)
        submitted = [s for s in shown["submissions"] if s["round"] == case.round]
        series = open_images(case.image_location, series_uid=case.series_uid)
        recorded = [c for c in shown["consensus"] if c["round"] == case.round]
        options = {"reviewer": self.user, "owns_volume": True, "name": case_folder_name(case)}
        if all(s["seg"] is None for s in submitted):  # landmarks, boxes and labels only: the SRs
            protocol = self._protocol(project)
            submissions, kind = [(s["user"], files[("sr", s["user"], case.round)]) for s in submitted], "sr"

            def create(volume):
                return MarksReviewSession(self.scene, series, submissions, protocol=protocol, volume_node=volume,
                                          **options)
        else:
            submissions, kind = [(s["user"], files[("seg", s["user"], case.round)]) for s in submitted], "seg"

            def create(volume):
                return ReviewSession(self.scene, series, submissions, volume_node=volume, **options)

        def prepare(session) -> None:
            if recorded:
                session.load_consensus(files[(f"consensus_{kind}", recorded[-1]["user"], case.round)])

        session = self._open(case, series, load_volume, create, prepare)
        self.action = action
        return session

    def build_consensus(self, method: str = "staple") -> None:
        """Merge the submissions into the editable consensus node, shown in 3D when the desk shows surfaces."""
        session = self.require_session()
        session.build_consensus(method)
        self.show_3d(self.shown_in_3d)

    def record_consensus(self, method: str | None = None) -> CaseView:
        """Write the consensus as the reviewer left it (built with ``method`` if not built yet) and record it."""
        session = self.require_session()
        if isinstance(session, MarksReviewSession):  # the core merges the submitted SRs
            self.case = self._updated(self.service.consensus(self.case.id))
            merged = [path for (role, _user, round_), path in self._files(self.case.id).items()
                      if role == "consensus_sr" and round_ == self.case.round]
            session.load_consensus(merged[-1])
            return self.case
        if session.consensus_node is None:
            self.build_consensus(method or "staple")
        method = method or session.consensus_method
        folder = self.work / "reviews" / f"case-{self.case.id}" / f"round-{self.case.round}"
        written = session.export(folder, ("seg",))
        with removed_on_failure(written["seg"]):
            recorded = self.service.consensus(self.case.id, method=method, consensus_seg=written["seg"],
                                              agreement=session.agreement().to_json())
        self.case = self._updated(recorded)
        return self.case

    def approve(self, comment: str | None = None) -> CaseView:
        self.case = self._updated(self.service.review(self._require_case().id, "approve", comment))
        return self.case

    def request_changes(self, comment: str) -> CaseView:
        self.case = self._updated(self.service.review(self._require_case().id, "changes", comment))
        return self.case

    def sign(self, meaning: str, password: str | None = None) -> SignatureView:
        """Sign the approved result; ``password`` is the user's, asked again for every signature (a team
        server always needs it)."""
        signed = self.service.finalize(self._require_case().id, meaning, password=password)
        return SignatureView(signed["case"], signed["user"], signed["name"], signed["meaning"], signed["signed_at"],
                             signed["sha256"], signed["file"])

    def _updated(self, payload: dict[str, Any]) -> CaseView:
        return CaseView.from_json(payload, self.case.image_location)


def measurement_report(session: AnnotationSession, files: SubmissionFiles):
    """The TID 1500 SR of a submission: each segment measured, with its labels and marks from the session
    (only the labels and marks for a protocol without volume structures). The segments are those the
    session wrote into the SEG (numbered as there), on the volume it decoded when the case opened. A protocol
    with an ejection fraction rule (echocardiography) adds EDV, ESV and EF, as ``sr export --protocol`` does, so
    an outline that cannot give one stops the submission with the segment named."""
    from ..dicom import read_header
    from ..seg import read_seg
    from ..sr import ejection_fraction, measure_on_series

    marks = read_marks(files.annotations, session.series, session.protocol)
    if not session.protocol.segment_structures:
        return build_sr(None, None, [], labels=read_labels(files.annotations, [], marks, session.protocol),
                        marks=marks, creator=session.user, protocol_id=session.protocol.id, reference=session.series)
    segmentation = files.segmentation
    if segmentation is None or [s.number for s in segmentation.segments] != \
            list(range(1, len(segmentation.segments) + 1)):  # the SEG renumbered its segments: read them back
        segmentation = read_seg(files.seg, session.reference)
    labels = read_labels(files.annotations, segmentation.segments, marks, session.protocol)
    measured = measure_on_series(segmentation, session.series)
    function = ejection_fraction(measured, session.protocol) if session.protocol.ejection_fraction else None
    return build_sr(segmentation, read_header(files.seg), measured, labels=labels, marks=marks,
                    creator=session.user, protocol_id=session.protocol.id, ejection_fraction=function)

