"""The reviewer's and radiologist's panel: submissions per annotator, agreement, consensus, review, signature.

Each button is one call to :class:`mrml.ReviewerDesk`; the team server decides who may do what (roles,
blinding, tiers, no self-review) and its refusal is the message shown. The consensus is a segmentation
node the reviewer edits with the Segment Editor before recording it; on a cine, the frame slider brings each
frame into view with every submission and the consensus drawn on it. The signing password goes from the
page to the server over the session's own connection, and is forgotten as soon as it was sent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..mrml import ReviewerDesk
from .feedback import message_lines, perform
from .views import fit_three_d_views


class ReviewerPanel:
    """The review tab; ``on_case(volume_node, segmentation_node)`` shows a case, ``on_edit`` what the editor edits."""

    def __init__(self, server, slicer_app, service, user: str, work: Path,
                 on_case: Callable[[object, object], None], on_edit: Callable[[object, object], None]) -> None:
        self.server, self.state, self.slicer = server, server.state, slicer_app
        self.desk = ReviewerDesk(slicer_app.scene, None, user, work, service=service)
        self.on_case, self.on_edit = on_case, on_edit
        self.state.update({"da_r_project": "", "da_r_case_number": "", "da_r_case": None, "da_r_submissions": [],
                           "da_r_shown": "all",
                           "da_r_agreement": [], "da_r_method": "staple", "da_r_has_consensus": False,
                           "da_r_comment": "", "da_r_meaning": "Approved as the reference standard",
                           "da_r_password": "", "da_r_show_3d": False, "da_r_frames": 0, "da_r_frame": 1})
        controller = server.controller
        # typed values come with the click (the field's own state update may reach the server after it)
        controller.da_r_next_case = lambda project: perform(self.state, lambda: self.next_case(project))
        controller.da_r_open_case = lambda number: perform(self.state, lambda: self.open_case(number))
        controller.da_r_show = lambda name: perform(self.state, lambda: self.show(name))
        controller.da_r_show_3d = lambda shown: perform(self.state, lambda: self.show_3d(shown))
        controller.da_r_frame = lambda frame: perform(self.state, lambda: self.show_frame(frame))
        controller.da_r_consensus = lambda method: perform(self.state, lambda: self.build_consensus(method))
        controller.da_r_record = lambda method: perform(self.state, lambda: self.record_consensus(method))
        controller.da_r_approve = lambda comment: perform(self.state, lambda: self.approve(comment))
        controller.da_r_changes = lambda comment: perform(self.state, lambda: self.request_changes(comment))
        controller.da_r_sign = lambda meaning, password: perform(self.state, lambda: self.sign(meaning, password))

    # ------------------------------------------------------------------ actions
    def next_case(self, project: str | None) -> str:
        project = str(project or "").strip()
        if not project:
            from ..errors import InputError

            raise InputError("Type the project's name first")
        return self._opened(self.desk.open_next_case(project))

    def open_case(self, number: str | None) -> str:
        number = str(number or "").strip()
        if not number.isdigit():
            from ..errors import InputError

            raise InputError(f"'{number}' is not a case number; type the number of the case to review")
        return self._opened(self.desk.open_case(int(number)))

    def _opened(self, session) -> str:
        self._show_case_state()
        self.state.da_r_submissions = list(session.names)
        self.state.da_r_shown = "all"
        self.state.da_r_agreement = self._agreement(session)
        views = getattr(session, "views", None)
        self.state.update({"da_r_frames": views.frame_count if views else 0, "da_r_frame": 1})
        self.on_case(session.volume_node, session.consensus_node)
        return f"Case {self.desk.case.id} opened to {self.desk.action}"

    def show_frame(self, frame) -> str:
        """Bring another frame of the cine into view, with what each submission and the consensus hold there."""
        views = getattr(self._session(), "views", None)
        if views is None:
            from ..errors import InputError

            raise InputError("This case has no frames to choose")
        views.show(frame=int(frame) - 1)
        self.state.da_r_frame = views.frame_index + 1
        return f"Frame {views.frame_index + 1} of {views.frame_count} shown"

    def show(self, name: str) -> str:
        self._session().show_only(None if name == "all" else name)
        self.state.da_r_shown = name
        return "All submissions shown" if name == "all" else f"Only {name}'s submission shown"

    def show_3d(self, shown: bool) -> str:
        self.desk.show_3d(bool(shown))
        self.state.da_r_show_3d = self.desk.shown_in_3d
        if self.desk.shown_in_3d:
            fit_three_d_views(self.slicer)
        return "Segmentations shown in 3D" if self.desk.shown_in_3d else "Segmentations no longer shown in 3D"

    def build_consensus(self, method: str) -> str:
        self.desk.build_consensus(method)
        session = self._session()
        self.state.da_r_has_consensus = True
        self.state.da_r_agreement = self._agreement(session)
        self.on_edit(session.volume_node, session.consensus_node)
        return f"Consensus ({method}) built; edit it with the Segment Editor, then record it"

    def record_consensus(self, method: str) -> str:
        case = self.desk.record_consensus(str(method))
        self._show_case_state()
        return f"Consensus of case {case.id} recorded; its state is now {case.state.value}"

    def approve(self, comment: str | None) -> str:
        case = self.desk.approve(str(comment or "") or None)
        self._show_case_state()
        return f"Case {case.id} approved; its state is now {case.state.value}"

    def request_changes(self, comment: str | None) -> str:
        case = self.desk.request_changes(str(comment or ""))
        self._show_case_state()
        return f"Changes requested on case {case.id}; its state is now {case.state.value}"

    def sign(self, meaning: str | None, password: str | None) -> str:
        self.state.da_r_password = ""  # asked again for every signature, kept for none
        signature = self.desk.sign(str(meaning or ""), str(password or ""))
        self.state.da_r_case = {**self.state.da_r_case, "state": "final"}
        return f"Case {signature.case} signed by {signature.name} at {signature.signed_at}: {signature.meaning}"

    @staticmethod
    def _agreement(session) -> list[list[str]]:
        """The agreement table, when there are two submissions or more to compare (an annotator sees their own
        only; a project may have one annotator per case)."""
        return session.agreement_table() if len(session.names) > 1 else []

    def _show_case_state(self) -> None:
        case = self.desk.case
        self.state.da_r_case = {"id": case.id, "state": case.state.value, "round": case.round,
                                "tier": case.tier, "action": self.desk.action}
        self.state.da_r_has_consensus = self.desk.session is not None and self.desk.session.consensus_node is not None

    def _session(self):
        return self.desk.require_session()

    # ------------------------------------------------------------------ layout
    def build_ui(self) -> None:
        from trame.widgets import html
        from trame.widgets.vuetify3 import (
            VBtn,
            VBtnToggle,
            VCard,
            VCardText,
            VCardTitle,
            VCheckbox,
            VSelect,
            VSlider,
            VTable,
            VTextField,
        )

        controller = self.server.controller
        message_lines()
        with html.Div(classes="d-flex align-center ga-2 my-2"):
            VTextField(v_model=("da_r_project",), label="Project", density="compact", hide_details=True,
                       id="da-review-project")
            VBtn("Next case", click=(controller.da_r_next_case, "[da_r_project]"), color="primary", id="da-review-next")
        with html.Div(classes="d-flex align-center ga-2 my-2"):
            VTextField(v_model=("da_r_case_number",), label="Case number", density="compact", hide_details=True,
                       id="da-review-case-number")
            VBtn("Open", click=(controller.da_r_open_case, "[da_r_case_number]"), id="da-review-open")
        with VCard(v_if=("da_r_case",), variant="outlined", classes="my-2", id="da-review-case"):
            VCardTitle("Case {{ da_r_case.id }} (round {{ da_r_case.round }}): {{ da_r_case.state }}",
                       classes="text-subtitle-1")
            with VCardText():
                html.Div("To do: {{ da_r_case.action }}", classes="text-caption")
                html.Div("Submissions", classes="text-subtitle-2 mt-2")
                with VBtnToggle(model_value=("da_r_shown",), density="compact", mandatory=True, divided=True,
                                id="da-review-submissions"):
                    VBtn("All", value="all", click=(controller.da_r_show, "['all']"), size="small")
                    VBtn("{{ name }}", v_for="name in da_r_submissions", key="name", value=("name",), size="small",
                         click=(controller.da_r_show, "[name]"))
                with html.Div(v_if=("da_r_frames > 1",), id="da-review-frame"):  # the slider's own id goes to its label
                    VSlider(label="Frame", min=1, max=("da_r_frames",), step=1, model_value=("da_r_frame",),
                            thumb_label=True, density="compact", hide_details=True, classes="my-2",
                            update_modelValue=(controller.da_r_frame, "[$event]"))
                VCheckbox(label="Show 3D", model_value=("da_r_show_3d",), density="compact", hide_details=True,
                          update_modelValue=(controller.da_r_show_3d, "[$event]"), id="da-review-show-3d")
                html.Div("Agreement", classes="text-subtitle-2 mt-2")
                # small type and narrow cells: the five columns fit the drawer without scrolling sideways
                with VTable(density="compact", classes="text-caption", id="da-agreement"):
                    with html.Thead(), html.Tr():
                        html.Th("{{ cell }}", v_for="cell in (da_r_agreement[0] || [])", key="cell",
                                classes="px-1")
                    with html.Tbody():
                        with html.Tr(v_for="(row, index) in da_r_agreement.slice(1)", key="index"):
                            html.Td("{{ cell }}", v_for="(cell, column) in row", key="column", classes="px-1")
                with html.Div(classes="d-flex align-center ga-2 mt-2"):
                    VSelect(v_model=("da_r_method",), items=(["staple", "majority"],), label="Consensus",
                            density="compact", hide_details=True, id="da-consensus-method")
                    VBtn("Build", click=(controller.da_r_consensus, "[da_r_method]"), id="da-build-consensus")
                    VBtn("Record", click=(controller.da_r_record, "[da_r_method]"), disabled=("!da_r_has_consensus",),
                         id="da-record-consensus")
                VTextField(v_model=("da_r_comment",), label="Comment", density="compact", hide_details=True,
                           classes="mt-3", id="da-review-comment")
                with html.Div(classes="d-flex ga-2 mt-2"):
                    VBtn("Approve", click=(controller.da_r_approve, "[da_r_comment]"), color="primary", id="da-approve")
                    VBtn("Request changes", click=(controller.da_r_changes, "[da_r_comment]"), id="da-request-changes")
                html.Div("Signature", classes="text-subtitle-2 mt-3")
                VTextField(v_model=("da_r_meaning",), label="Meaning", density="compact", hide_details=True,
                           id="da-sign-meaning")
                VTextField(v_model=("da_r_password",), label="Your password", type="password", density="compact",
                           hide_details=True, autocomplete="current-password", classes="mt-2", id="da-sign-password")
                VBtn("Sign", click=(controller.da_r_sign, "[da_r_meaning, da_r_password]"), color="primary",
                     classes="mt-2", id="da-sign")
