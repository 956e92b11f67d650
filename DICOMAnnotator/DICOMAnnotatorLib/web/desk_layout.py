"""The page of a session: trame-slicer's viewer layout with the case panel and the Segment Editor in its drawer.

The left strip switches the drawer between the case panel (annotate or review) and trame-slicer's
Segment Editor panel; the effect buttons and undo/redo stay on the strip, as in trame-slicer's
segmentation app. The app bar names the signed-in user and signs out through the launcher.
"""

from __future__ import annotations

CASE_TOOL = "CasePanel"
EDITOR_TOOL = "SegmentEditorUI"


class DeskLayout:
    def __init__(self, server, layout_manager, user: str, annotator, reviewer) -> None:
        from trame.widgets import html
        from trame.widgets.vuetify3 import VBtn, VChip, VTab, VTabs, VWindow, VWindowItem
        from trame_slicer.app.ui import (
            ControlButton,
            LayoutButton,
            SegmentEditorToolbarUI,
            SegmentEditorUI,
            SegmentEditorUndoRedoUI,
            ViewerLayout,
        )

        self.server = server
        state = server.state
        state.setdefault("da_mode", "annotate")
        with ViewerLayout(server, title="DICOMAnnotator", is_drawer_visible=True) as self.layout:
            state.trame__title = "DICOMAnnotator"
            self.viewer = self.layout.typed_state
            self.viewer.data.active_tool = CASE_TOOL
            with self.layout.appbar:
                VChip(user, prepend_icon="mdi-account", id="da-user", classes="mx-2")
                with html.Form(action="/sign-out", method="post", style="display: inline;"):
                    VBtn("Sign out", raw_attrs=['type="submit"'], id="da-sign-out", variant="text")
            with self.layout.drawer:
                with html.Div(v_if=(self._is_tool(CASE_TOOL),), classes="pa-2"):
                    with VTabs(v_model=("da_mode",), density="compact", grow=True):
                        VTab("Annotate", value="annotate", id="da-tab-annotate")
                        VTab("Review", value="review", id="da-tab-review")
                    with VWindow(v_model=("da_mode",)):
                        with VWindowItem(value="annotate"):
                            annotator.build_ui()
                        with VWindowItem(value="review"):
                            reviewer.build_ui()
                self.editor = SegmentEditorUI(v_if=(self._is_tool(EDITOR_TOOL),))
            with self.layout.toolbar:
                self._tool_button("Case", "mdi-clipboard-text-outline", CASE_TOOL, ControlButton)
                self.layout_button = LayoutButton(classes="mt-1")
                self._tool_button("Segment Editor", "mdi-brush", EDITOR_TOOL, ControlButton)
                SegmentEditorToolbarUI(editor_ui=self.editor)
            with self.layout.undo_redo:
                SegmentEditorUndoRedoUI(editor_ui=self.editor)
            with self.layout.footer:
                html.Span("{{ da_probe }}", id="da-probe", classes="text-caption mx-4",
                          raw_attrs=[':data-ras="JSON.stringify(da_probe_ras)"'])
            with self.layout.content:
                layout_manager.initialize_layout_grid(self.layout)

    def _is_tool(self, tool: str) -> str:
        return f"{self.viewer.name.active_tool} === '{tool}'"

    def _tool_button(self, name: str, icon: str, tool: str, button_class) -> None:
        def show() -> None:
            self.viewer.data.is_drawer_visible = True
            self.viewer.data.active_tool = tool

        button_class(name=name, icon=icon, click=show, active=(self._is_tool(tool),), classes="mt-1",
                     id=f"da-tool-{tool}")

    def case_loaded(self) -> None:
        self.viewer.data.is_volume_loaded = True
