"""The annotator's panel: my queue, the protocol beside the views, labels, marks, live measurements, draft, submit.

Each button is one call to :class:`mrml.AnnotatorDesk` (which calls the team server); what the panel
shows is read back from the desk's session: the protocol's presets, instructions and edge cases,
the checklist, the classification questions with their coded answers, and each segment's volume
and voxel count (area and pixels on 2D images and cine), measured again whenever the segmentation changes.
A case of 2D images shows one image at a time (chosen from a list when it has several), a cine one frame
(chosen with the frame slider); what is painted on a frame stays on that frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from ..dicom import Code
from ..mrml import CASE_TARGET, AnnotatorDesk
from ..protocols import AnnotationKind
from .feedback import message_lines, perform
from .views import fit_three_d_views

#: Seconds between the last edit and the measurements shown again (a stroke modifies the segmentation often).
MEASURE_DELAY = 0.3


class AnnotatorPanel:
    """The annotate tab; ``on_case(volume_node, segmentation_node)`` shows an opened case in the views."""

    def __init__(self, server, slicer_app, service, user: str, work: Path,
                 on_case: Callable[[object, object], None]) -> None:
        self.server, self.state, self.slicer = server, server.state, slicer_app
        self.desk = AnnotatorDesk(slicer_app.scene, None, user, work, service=service)
        self.on_case = on_case
        self._observed: tuple[object, int] | None = None
        self._measure_pending = False
        self.state.update({"da_project": "", "da_case_number": "", "da_a_case": None, "da_a_instructions": "",
                           "da_a_edge_cases": [], "da_a_presets": [], "da_a_checklist": [], "da_a_questions": [],
                           "da_a_measurements": [], "da_a_size_header": "", "da_a_marks": [], "da_a_show_3d": False,
                           "da_a_images": [], "da_a_image": 0, "da_a_frames": 0, "da_a_frame": 1})
        controller = server.controller
        # typed values come with the click (the field's own state update may reach the server after it)
        controller.da_next_case = lambda project: perform(self.state, lambda: self.next_case(project))
        controller.da_open_case = lambda number: perform(self.state, lambda: self.open_case(number))
        controller.da_window = lambda name: perform(self.state, lambda: self.apply_window(name))
        controller.da_answer = lambda key, value: perform(self.state, lambda: self.answer(key, value))
        controller.da_place = lambda label: perform(self.state, lambda: self.place(label))
        controller.da_show_3d = lambda shown: perform(self.state, lambda: self.show_3d(shown))
        controller.da_image = lambda index: perform(self.state, lambda: self.show_image(index))
        controller.da_frame = lambda frame: perform(self.state, lambda: self.show_frame(frame))
        controller.da_save_draft = lambda: perform(self.state, self.save_draft)
        controller.da_submit = lambda: perform(self.state, self.submit)

    # ------------------------------------------------------------------ actions
    def next_case(self, project: str | None) -> str:
        project = str(project or "").strip()
        if not project:
            return self._refuse("Type the project's name first")
        self._opened(self.desk.open_next_case(project))
        return f"Case {self.desk.case.id} opened"

    def open_case(self, number: str | None) -> str:
        number = str(number or "").strip()
        if not number.isdigit():
            return self._refuse(f"'{number}' is not a case number; type the number of a case assigned to you")
        self._opened(self.desk.open_case(int(number)))
        return f"Case {self.desk.case.id} opened"

    def apply_window(self, name: str) -> str:
        preset = self._session().apply_window(name)
        return f"Window {preset.name}: centre {preset.center:g}, width {preset.width:g}"

    def answer(self, key: str, value: str) -> str:
        target, classification = key.split("|", 1)
        self._session().set_label(target, classification, Code(*value.split("|", 2)))
        self._refresh_checklist()
        return f"{classification} of {target}: {value.split('|', 2)[2]}"

    def place(self, label: str) -> str:
        node = self._session().markups_node(label)
        if node is None:
            return self._refuse(f"The protocol has no landmark or box named '{label}'")
        self.slicer.markups_logic.place_node(node)
        return f"Click in a slice view to place {label}"

    def show_3d(self, shown: bool) -> str:
        self.desk.show_3d(bool(shown))
        self.state.da_a_show_3d = self.desk.shown_in_3d
        if self.desk.shown_in_3d:
            fit_three_d_views(self.slicer)
        return "Segments shown in 3D" if self.desk.shown_in_3d else "Segments no longer shown in 3D"

    def show_image(self, index) -> str:
        """Bring another image of the case into view (``index`` from 0)."""
        views = self._views()
        views.show(image=int(index))
        session = self.desk.session
        self.on_case(session.volume_node, session.segmentation_node)
        self._show_view()
        return f"Image {views.image_index + 1} of {len(views.images)} shown"

    def show_frame(self, frame) -> str:
        """Bring another frame of the cine in view (``frame`` from 1); what is painted stays on its frame."""
        views = self._views()
        views.show(frame=int(frame) - 1)
        self._show_view()
        return f"Frame {views.frame_index + 1} of {views.frame_count} shown"

    def save_draft(self) -> str:
        self.desk.save_draft()
        return f"Draft of case {self.desk.case.id} saved; it opens again with the case"

    def submit(self) -> str:
        case = self.desk.case
        self._forget_segmentation()
        _, _, updated = self.desk.submit()
        self.state.update({"da_a_case": None, "da_a_checklist": [], "da_a_measurements": [], "da_a_marks": [],
                           "da_a_questions": [], "da_a_images": [], "da_a_frames": 0})
        self.on_case(None, None)
        return f"Case {case.id} submitted (SEG and SR); its state is now {updated.state.value}"

    # ------------------------------------------------------------------ what the panel shows
    def _opened(self, session) -> None:
        protocol, case = session.protocol, self.desk.case
        self.state.update({
            "da_a_case": {"id": case.id, "state": case.state.value, "round": case.round, "title": protocol.title},
            "da_a_instructions": protocol.instructions.text if protocol.instructions else "",
            "da_a_edge_cases": [{"title": e.title, "text": e.text} for e in protocol.edge_cases],
            "da_a_presets": [p.name for p in protocol.window_presets],
            "da_a_questions": self._questions(session),
            "da_a_marks": [{"label": s.label, "kind": s.kind.value} for s in protocol.structures
                           if s.kind in (AnnotationKind.LANDMARK, AnnotationKind.BOX)],
        })
        views = session.views
        self.state.da_a_images = [{"title": f"{n + 1}: {image.modality} {image.kind}, {image.columns} x {image.rows}",
                                   "value": n} for n, image in enumerate(views.images)] if views else []
        self.on_case(session.volume_node, session.segmentation_node)
        self._observe(session.segmentation_node)
        self._show_view()

    def _show_view(self) -> None:
        """The image and frame in view (none on a volume), then the measurements of what it holds."""
        views = self.desk.session.views
        self.state.update({"da_a_image": views.image_index if views else 0,
                           "da_a_frames": views.frame_count if views else 0,
                           "da_a_frame": views.frame_index + 1 if views else 1})
        self._measure()

    def _questions(self, session) -> list[dict]:
        """Each classification with its target and the protocol's coded answers ("value|scheme|meaning")."""
        questions = []
        for structure in session.protocol.structures:
            if structure.kind is not AnnotationKind.CLASSIFICATION:
                continue
            for target in structure.applies_to or (CASE_TARGET,):
                chosen = session.labels.get((target, structure.label))
                questions.append({
                    "key": f"{target}|{structure.label}", "title": f"{structure.label} ({target})",
                    "items": [{"title": v.meaning, "value": f"{v.value}|{v.scheme}|{v.meaning}"}
                              for v in structure.values],
                    "value": f"{chosen.value}|{chosen.scheme}|{chosen.meaning}" if chosen else None})
        return questions

    def _refresh_checklist(self, segmentation=None) -> None:
        session = self.desk.session
        if session is None:
            return
        self.state.da_a_checklist = [{"label": i.label, "kind": i.kind.value, "required": i.required,
                                      "count": i.count, "done": i.done} for i in session.checklist(segmentation)]

    def _measure(self) -> None:
        """Volume (mL, from the series' spacing) and voxels of each segment as drawn now, and the checklist; on 2D
        images and cine, the area over every frame (mm² where the image is calibrated, else pixels) and pixels."""
        self._measure_pending = False
        session = self.desk.session
        if session is None:
            return
        segmentation = session.segmentation()
        self.state.da_a_size_header, unit = size_column(session, segmentation)
        self.state.da_a_measurements = [
            {"segment": d.label, "voxels": segmentation.voxel_count(d.number),
             "size": round(segmentation.voxel_count(d.number) * unit, 3)} for d in segmentation.segments]
        self._refresh_checklist(segmentation)

    def _observe(self, segmentation_node) -> None:
        """Measure again shortly after the segmentation changes (a paint stroke, an effect, undo)."""
        import slicer

        self._forget_segmentation()
        segmentation = segmentation_node.GetSegmentation()
        tag = segmentation.AddObserver(slicer.vtkSegmentation.RepresentationModified, self._changed)
        self._observed = (segmentation, tag)

    def _forget_segmentation(self) -> None:
        if self._observed is not None:
            segmentation, tag = self._observed
            segmentation.RemoveObserver(tag)
            self._observed = None

    def _changed(self, *_args) -> None:
        if self._measure_pending:
            return
        self._measure_pending = True

        def later() -> None:
            with self.state:
                perform(self.state, self._measure)

        asyncio.get_event_loop().call_later(MEASURE_DELAY, later)

    def _session(self):
        return self.desk.require_session()

    def _views(self):
        views = self._session().views
        if views is None:
            self._refuse("This case is a volume: it has no images or frames to choose; scroll its slices instead")
        return views

    def _refuse(self, text: str) -> None:
        from ..errors import InputError

        raise InputError(text)

    # ------------------------------------------------------------------ layout
    def build_ui(self) -> None:
        from trame.widgets import html
        from trame.widgets.vuetify3 import (
            VBtn,
            VCard,
            VCardText,
            VCardTitle,
            VCheckbox,
            VChip,
            VSelect,
            VSlider,
            VTable,
            VTextField,
        )

        message_lines()
        with html.Div(classes="d-flex align-center ga-2 my-2"):
            VTextField(v_model=("da_project",), label="Project", density="compact", hide_details=True,
                       id="da-project")
            VBtn("Next case", click=(self.server.controller.da_next_case, "[da_project]"), color="primary",
                 id="da-next-case")
        with html.Div(classes="d-flex align-center ga-2 my-2"):
            VTextField(v_model=("da_case_number",), label="Case number", density="compact", hide_details=True,
                       id="da-case-number")
            VBtn("Open", click=(self.server.controller.da_open_case, "[da_case_number]"), id="da-open-case")
        with VCard(v_if=("da_a_case",), variant="outlined", classes="my-2", id="da-annotate-case"):
            VCardTitle("Case {{ da_a_case.id }} (round {{ da_a_case.round }}): {{ da_a_case.state }}",
                       classes="text-subtitle-1")
            with VCardText():
                html.Div("{{ da_a_case.title }}", classes="text-caption")
                with html.Div(classes="d-flex flex-wrap ga-1 my-2"):
                    VChip("{{ name }}", v_for="name in da_a_presets", key="name", size="small",
                          click=(self.server.controller.da_window, "[name]"), prepend_icon="mdi-contrast-box",
                          id=("`da-window-${name}`",))
                VCheckbox(label="Show 3D", model_value=("da_a_show_3d",), density="compact", hide_details=True,
                          update_modelValue=(self.server.controller.da_show_3d, "[$event]"), id="da-show-3d")
                VSelect(v_if=("da_a_images.length > 1",), label="Image", items=("da_a_images",),
                        model_value=("da_a_image",), density="compact", hide_details=True, classes="my-2",
                        update_modelValue=(self.server.controller.da_image, "[$event]"), id="da-image")
                with html.Div(v_if=("da_a_frames > 1",), id="da-frame"):  # Vuetify gives a slider's id to its label
                    VSlider(label="Frame", min=1, max=("da_a_frames",), step=1, model_value=("da_a_frame",),
                            thumb_label=True, density="compact", hide_details=True, classes="my-2",
                            update_modelValue=(self.server.controller.da_frame, "[$event]"))
                html.Div("Instructions", classes="text-subtitle-2 mt-2")
                html.Div("{{ da_a_instructions }}", classes="text-body-2", id="da-instructions")
                with html.Div(v_for="edge in da_a_edge_cases", key="edge.title", classes="text-body-2 mt-1"):
                    html.B("{{ edge.title }}: ")
                    html.Span("{{ edge.text }}")
                html.Div("Checklist", classes="text-subtitle-2 mt-2")
                with VTable(density="compact", id="da-checklist"):
                    with html.Tbody():
                        with html.Tr(v_for="item in da_a_checklist", key="item.label"):
                            html.Td("{{ item.label }}")
                            html.Td("{{ item.kind }}{{ item.required ? ' (required)' : '' }}")
                            html.Td("{{ item.done ? 'done' : 'to do' }} ({{ item.count }})")
                html.Div("Measurements", classes="text-subtitle-2 mt-2")
                with VTable(density="compact", id="da-measurements"):
                    with html.Thead(), html.Tr():
                        html.Th("Segment")
                        html.Th("Voxels")
                        html.Th("{{ da_a_size_header }}")
                    with html.Tbody():
                        with html.Tr(v_for="row in da_a_measurements", key="row.segment"):
                            html.Td("{{ row.segment }}")
                            html.Td("{{ row.voxels }}")
                            html.Td("{{ row.size }}")
                with html.Div(v_for="question in da_a_questions", key="question.key", classes="my-2"):
                    VSelect(label=("question.title",), items=("question.items",), model_value=("question.value",),
                            density="compact", hide_details=True,
                            update_modelValue=(self.server.controller.da_answer, "[question.key, $event]"))
                with html.Div(v_for="mark in da_a_marks", key="mark.label", classes="my-1"):
                    VBtn("Place {{ mark.label }} ({{ mark.kind }})", size="small", variant="tonal",
                         click=(self.server.controller.da_place, "[mark.label]"))
                with html.Div(classes="d-flex ga-2 mt-3"):
                    VBtn("Save draft", click=self.server.controller.da_save_draft, id="da-save-draft")
                    VBtn("Submit", click=self.server.controller.da_submit, color="primary", id="da-submit")


def size_column(session, segmentation) -> tuple[str, float]:
    """The measurements table's size column: its header and the size of one voxel (mL) or pixel (mm², or 1 pixel
    where the image states no calibration) in its unit."""
    geometry = segmentation.geometry
    if session.views is None:
        return "Volume (mL)", geometry.voxel_volume_mm3 / 1000.0
    if not getattr(geometry, "calibrated", True):
        return "Area (pixels)", 1.0
    return "Area (mm²)", float(geometry.spacing[0] * geometry.spacing[1])
