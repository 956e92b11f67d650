"""The two Slicer modules' Widgets and Logic, clicked through on real MRML with stand-ins for Qt (slicer_application).

What is checked: every handler leaves the panel in line with the Logic when one of its steps fails
(``tryWithErrorDisplay`` re-raises; the handlers' closing steps still run); ``slicer.packaging`` is
imported where it is used; the store's password reaches neither the settings file nor the scene; the
embedded Segment Editor shows no node selectors and follows late effects; the protocol's point lists
become the place node; written SEG/SR are copied into the DICOM database; the modules' own self-tests
work in a temporary DICOM database, never in the user's.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pydicom
import pytest
import slicer
from DICOMAnnotatorLib import review
from DICOMAnnotatorLib.imaging.segmentation import Segmentation
from DICOMAnnotatorLib.mrml import bridge
from DICOMAnnotatorLib.protocols import load_protocol
from DICOMAnnotatorLib.review.sample_project import create_sample_project
from DICOMAnnotatorLib.seg import write_seg
from planar_cases import exam_folder
from slicer_application import DICOMDatabase, InputDialog, SlicerApplication, type_into

pytestmark = pytest.mark.bridge


@pytest.fixture
def application(tmp_path):
    with SlicerApplication(tmp_path) as standing_in:
        yield standing_in


@pytest.fixture
def liver_case(write_phantom, tmp_path):
    """A liver-lesions-ct project with one phantom case for ann and ben; (store URL, labels, series folder)."""
    folder, _, _, labels = write_phantom()
    url = f"sqlite:///{tmp_path / 'review.db'}"
    create_sample_project(url, "liver", load_protocol("liver-lesions-ct"), folder)
    return url, labels, folder


def annotator_panel(application, url: str, project: str = "liver", user: str = "ann"):
    """The annotator's module panel with the store, user, project and a work folder typed in."""
    module = application.load_module("DICOMAnnotator")
    widget = application.widget(module, "DICOMAnnotator")
    type_into(widget.ui.storeURLLineEdit, url)
    type_into(widget.ui.userNameLineEdit, user)
    type_into(widget.ui.projectNameLineEdit, project)
    type_into(widget.ui.workFolderLineEdit, str(Path(application.app.temporaryPath).parent / "work" / user))
    return module, widget


def case_controls_enabled(widget) -> set[bool]:
    ui = widget.ui
    return {button.enabled for button in (ui.saveDraftButton, ui.submitButton, ui.refreshButton, ui.setLabelButton)}


def draw_liver(widget, labels) -> None:
    """Paint the liver and the lesion into the case's node, as the Segment Editor would."""
    session = widget.logic.desk.session
    drawn = Segmentation.from_labelmap(session.series.geometry, np.where(labels == 3, 0, labels),
                                       session.protocol.segment_descriptions(), reference=session.series)
    bridge.segmentation_to_node(drawn, slicer.mrmlScene, session.volume_node, node=session.segmentation_node)


# ----------------------------------------------------------------------------- slicer.packaging
def test_the_modules_import_slicer_packaging_before_using_it(application):
    assert not hasattr(slicer, "packaging"), "as in Slicer: nothing imported slicer.packaging yet"
    module = application.load_module("DICOMAnnotator")
    assert module.missingRequirements("annotate") == [], "this environment has the core's packages"
    assert hasattr(slicer, "packaging")


# ----------------------------------------------------------------------------- the annotator's handlers
def test_next_case_opens_the_case_and_the_panel_follows(application, liver_case, caplog):
    url, _, _ = liver_case
    slicer.dicomDatabase = DICOMDatabase(Path(application.app.temporaryPath) / "user-database")
    _, widget = annotator_panel(application, url)
    assert case_controls_enabled(widget) == {False}
    widget.ui.nextCaseButton.click()
    assert widget.logic.hasOpenCase() and case_controls_enabled(widget) == {True}
    assert widget.ui.caseTextLabel.text.startswith("Case 1 (round 1, ")
    assert application.packaging.ensured[-1] == (["jsonschema>=4.18", "SQLAlchemy>=2.0"],
                                                 "DICOM Annotator", True)
    session = widget.logic.desk.session
    assert widget.editor.editor_node.GetSegmentationNode() is session.segmentation_node
    assert widget.editor.editor_node.GetSingletonTag() == "DICOMAnnotator", "not the Segment Editor module's node"
    assert [row[0] for row in widget.ui.checklistTableWidget.rows()] == ["Liver", "Liver lesion",
                                                                         "Liver lesion type"]
    assert slicer.dicomDatabase.filesForSeries(session.series.series_instance_uid), "imported into the database"
    assert application.app.loaded_series == [session.series.series_instance_uid], "and loaded from it"
    assert application.app.override_cursors == 0 and not caplog.records


def test_a_failed_draft_at_scene_close_still_closes_the_case(application, liver_case, caplog):
    url, _, _ = liver_case
    _, widget = annotator_panel(application, url)
    widget.ui.nextCaseButton.click()
    drafts = Path(widget.logic.desk.work) / "drafts"
    drafts.parent.mkdir(parents=True, exist_ok=True)
    drafts.write_text("a file where the drafts folder should be")
    slicer.mrmlScene.Clear(0)
    assert "draft of the open case could not be saved" in caplog.text
    assert not widget.logic.hasOpenCase() and case_controls_enabled(widget) == {False}
    assert widget.editor.editor_node is None
    assert widget.ui.caseTextLabel.text == ""


def test_a_failing_checklist_after_next_case_leaves_the_case_usable(application, liver_case, caplog, monkeypatch):
    url, _, _ = liver_case
    _, widget = annotator_panel(application, url)

    def failing_measurements():
        raise RuntimeError("the measurements failed")

    monkeypatch.setattr(widget.logic, "measurementRows", failing_measurements)
    widget.ui.nextCaseButton.click()
    assert "checklist could not be computed" in caplog.text and "the measurements failed" in caplog.text
    assert widget.logic.hasOpenCase() and case_controls_enabled(widget) == {True}, "Save and Submit act on the case"
    assert [row[0] for row in widget.ui.checklistTableWidget.rows()][0] == "Liver"
    assert widget.ui.measurementsTableWidget.headers[0] == "Segment" and widget.ui.measurementsTableWidget.rows() == []
    assert application.app.override_cursors == 0


def test_failed_steps_keep_the_case_as_it_was_and_a_submission_closes_it(application, liver_case, caplog):
    url, labels, _ = liver_case
    slicer.dicomDatabase = DICOMDatabase(Path(application.app.temporaryPath) / "user-database")
    _, widget = annotator_panel(application, url)
    widget.ui.nextCaseButton.click()
    opened = widget.ui.caseTextLabel.text

    widget.ui.submitButton.click()  # nothing drawn yet
    assert "could not be submitted" in caplog.text and "Required structure" in caplog.text
    assert widget.logic.hasOpenCase() and case_controls_enabled(widget) == {True}
    assert widget.ui.caseTextLabel.text == opened

    widget.ui.labelClassificationComboBox.setCurrentText("Liver lesion type")
    widget.ui.labelValueComboBox.items = ["Not a value"]
    widget.ui.setLabelButton.click()
    assert "label could not be set" in caplog.text and widget.logic.hasOpenCase()

    draw_liver(widget, labels)
    widget.ui.labelValueComboBox.items = ["Cyst"]
    widget.ui.setLabelButton.click()
    widget.ui.submitButton.click()
    assert not widget.logic.hasOpenCase() and case_controls_enabled(widget) == {False}
    assert widget.ui.caseTextLabel.text.startswith("Submitted case 1")
    assert slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 0
    seg_path = widget.ui.caseTextLabel.text.split(": ", 1)[1].split(", ")[0]
    [copy] = slicer.dicomDatabase.filesForSeries(pydicom.dcmread(seg_path).SeriesInstanceUID)
    assert Path(copy).parent == slicer.dicomDatabase.folder, "copied into the database, as Slicer's SEG export does"

    widget.ui.nextCaseButton.click()  # ann's queue is empty now
    assert "Failed to open the next case" in caplog.text
    assert case_controls_enabled(widget) == {False} and application.app.override_cursors == 0


def test_landmarks_are_placed_into_the_protocols_point_lists(application, write_phantom, tmp_path):
    folder, *_ = write_phantom()
    url = f"sqlite:///{tmp_path / 'review.db'}"
    create_sample_project(url, "spine", load_protocol("vertebral-fractures-ct"), folder)
    _, widget = annotator_panel(application, url, "spine")
    calls = [call[0] for call in widget.editor.calls]
    assert ("setSegmentationNodeSelectorVisible", False) in widget.editor.calls
    assert ("setSourceVolumeNodeSelectorVisible", False) in widget.editor.calls
    assert calls.index("setSourceVolumeNodeSelectorVisible") < calls.index("setMRMLScene")
    application.effect_factory.register("Another extension's effect")
    assert widget.editor.effect_list_updates == 1

    widget.ui.nextCaseButton.click()
    session = widget.logic.desk.session
    assert widget.ui.markupsStructureComboBox.items == list(session.markups)
    widget.ui.markupsStructureComboBox.setCurrentText("L2")
    selection = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSelectionNode")
    assert widget.placeWidget.current is session.markups["L2"]
    assert selection.GetActivePlaceNodeID() == session.markups["L2"].GetID()
    widget.cleanup()
    application.effect_factory.register("One more")
    assert widget.editor.effect_list_updates == 1, "disconnected when the module is cleaned up"


def test_a_cine_case_plays_in_the_sequence_toolbar_and_is_measured_frame_by_frame(application, tmp_path):
    """A generated ultrasound cine: shown through its browser in the sequence toolbar (as Slicer's
    DICOMImageSequencePlugin shows a loop); moving the toolbar's slider brings the frame's drawing into the editor,
    whose undo states of the frame left are dropped; measurements list each frame's area in mm²."""
    from DICOMAnnotatorLib.imaging import ImageGrid, phantoms

    phantoms.write_datasets([phantoms.ultrasound_cine_dataset(frames=12)], tmp_path / "echo")
    url = f"sqlite:///{tmp_path / 'review.db'}"
    create_sample_project(url, "echo", load_protocol("lv-function-echo-us"), tmp_path / "echo")
    _, widget = annotator_panel(application, url, "echo")
    widget.ui.nextCaseButton.click()
    session = widget.logic.desk.session
    cine = session.views.cine_nodes()
    assert ("setSliceViewerLayers", {"background": cine.proxy, "fit": True}) in application.recorded
    assert ("showSequenceBrowser", cine.browser) in application.recorded
    assert widget.ui.imageComboBox.items == ["1: US cine, 128 x 96"] and not widget.ui.imageComboBox.enabled
    widget.editor.undoEnabled = False
    cine.browser.SetSelectedItemNumber(2)  # the toolbar's slider on frame 3
    assert session.views.frame_index == 2 and widget.editor.undoEnabled, "undo states of frame 1 dropped"
    assert widget.editor.editor_node.GetSourceVolumeNode() is cine.proxy
    image = session.views.image
    outline = np.zeros((1, image.rows, image.columns), dtype=bool)
    outline[0, 30:60, 40:80] = True
    [diastole] = [d for d in session.protocol.segment_descriptions() if d.label == "LV endocardium ED"]
    bridge.segmentation_to_node(Segmentation(ImageGrid.of_pixels(image.columns, image.rows, 1, (0.3, 0.3)),
                                             [diastole], {diastole.number: outline}),
                                slicer.mrmlScene, session.volume_node, node=session.segmentation_node)
    cine.browser.SetSelectedItemNumber(5)
    widget.ui.refreshButton.click()
    assert widget.ui.measurementsTableWidget.headers == ["Segment", "Frame", "Area (mm²)", "Max diameter (mm)"]
    assert widget.ui.measurementsTableWidget.rows() == [["LV endocardium ED", "3", f"{30 * 40 * 0.09:.1f}",
                                                         f"{np.hypot(29, 39) * 0.3:.1f}"]]


def test_an_exams_views_are_chosen_in_the_panel_with_their_own_boxes(application, tmp_path):
    """Two images in one case: the panel lists them; choosing the second shows it and places boxes on it; the
    Review panel lists them too, each with the boxes on it."""
    folder = exam_folder(tmp_path / "exam", pydicom.data.get_testdata_file("examples_palette.dcm"))
    url = f"sqlite:///{tmp_path / 'review.db'}"
    protocol = load_protocol("breast-lesions-mg")
    create_sample_project(url, "mg", protocol, folder, annotators=("ann",))
    _, widget = annotator_panel(application, url, "mg")
    widget.ui.nextCaseButton.click()
    session = widget.logic.desk.session
    assert len(widget.ui.imageComboBox.items) == 2 and widget.ui.imageComboBox.enabled
    widget.ui.markupsStructureComboBox.setCurrentText("Mass")
    first = widget.placeWidget.current
    widget.ui.imageComboBox.setCurrentText(widget.ui.imageComboBox.items[1])
    assert session.views.image_index == 1
    assert ("setSliceViewerLayers", {"background": session.volume_node, "fit": True}) == application.recorded[-1]
    assert widget.placeWidget.current is session.markups_node("Mass") is not first, "boxes go onto the second view"
    widget.placeWidget.current.SetXYZ(*bridge.ras_point(session.views.lps_of([40.0, 30.0], 1)))
    widget.placeWidget.current.SetRadiusXYZ(2.0, 2.0, 0.5)
    session.set_label("Mass", "BI-RADS assessment", protocol.structure("BI-RADS assessment").values[1])
    widget.ui.submitButton.click()
    assert widget.ui.caseTextLabel.text.startswith("Submitted case 1 (in_review)"), "one annotator: merged at once"

    review_widget = application.widget(application.load_module("DICOMAnnotatorReview"), "DICOMAnnotatorReview")
    for line_edit, text in ((review_widget.ui.storeURLLineEdit, url), (review_widget.ui.userNameLineEdit, "rad"),
                            (review_widget.ui.projectNameLineEdit, "mg"),
                            (review_widget.ui.workFolderLineEdit, str(tmp_path / "rad"))):
        type_into(line_edit, text)
    review_widget.ui.nextCaseButton.click()
    compare = review_widget.logic.desk.session
    assert len(review_widget.ui.imageComboBox.items) == 2 and review_widget.ui.imageComboBox.enabled
    [box] = compare.nodes["ann"]
    assert not box.GetDisplayNode().GetVisibility(), "ann's box lies on the second view"
    review_widget.ui.imageComboBox.setCurrentText(review_widget.ui.imageComboBox.items[1])
    assert compare.views.image_index == 1 and box.GetDisplayNode().GetVisibility()
    assert application.recorded[-1] == ("setSliceViewerLayers", {"background": compare.volume_node, "fit": True})


# ----------------------------------------------------------------------------- store settings (no secrets)
def test_the_store_password_is_kept_in_memory_only(application, liver_case, tmp_path):
    module, widget = annotator_panel(application, "postgresql://ann:s3cret%21@127.0.0.1:9/annotations")
    widget.ui.nextCaseButton.click()  # nothing listens on port 9: the store cannot be opened
    location = "postgresql://ann@127.0.0.1:9/annotations"
    assert widget.ui.storeURLLineEdit.text == location
    settings = Path(application.app.temporaryPath).parent / "Slicer.ini"
    assert "s3cret" not in settings.read_text() and location in settings.read_text()
    slicer.mrmlScene.SetURL(str(tmp_path / "scene.mrml"))
    slicer.mrmlScene.Commit()
    scene_file = (tmp_path / "scene.mrml").read_text()
    assert "s3cret" not in scene_file and "127.0.0.1" not in scene_file, "the scene holds no store setting"

    InputDialog.answers = ["typed again"]
    widget.ui.nextCaseButton.click()  # a store that could not be opened asks for its password again
    assert InputDialog.questions == [("Review store password", f"Password for {location}:", 2)]
    assert "typed again" not in settings.read_text()

    store = module.StoreAccess(application.app.userSettings())
    store.setPassword("p@ss word")
    assert store.url() == "postgresql://ann:p%40ss%20word@127.0.0.1:9/annotations"
    review_logic = application.load_module("DICOMAnnotatorReview").DICOMAnnotatorReviewLogic()
    assert not review_logic.store().needsPassword(), "asked once per Slicer session, for both modules"
    application.app.settings.setValue("DICOMAnnotator/StoreURL", "postgresql://old:hunter2@host/db")
    assert store.location() == "postgresql://old@host/db" and "hunter2" not in settings.read_text()
    assert store.url() == "postgresql://old:hunter2@host/db"


def test_on_a_team_server_the_panel_signs_in_once_and_keeps_no_password(application, tmp_path):
    """The store setting is the server's URL: the password is asked once, sent to the server, and kept nowhere;
    the case's images come over HTTP into the work folder."""
    import json

    from review_support import write_series
    from team_server import TeamServer, Workstation

    server = TeamServer(f"sqlite:///{tmp_path / 'server.db'}", tmp_path)
    server.add_first_lead("lead", "lead-correct horse battery")
    server.start()
    try:
        lead = Workstation(tmp_path / "lead", server)
        lead.login("lead", "lead-correct horse battery")
        lead.ok("user", "add", "ann", "--role", "annotator", "--password-stdin", stdin="ann-correct horse battery\n")
        lead.ok("project", "create", "liver", "--protocol", "liver-lesions-ct", "--annotators", "1")
        lead.ok("case", "add", "liver", write_series(tmp_path / "series")[0])
        lead.ok("case", "assign", "liver")
        module, widget = annotator_panel(application, server.url)
        InputDialog.answers = ["ann-correct horse battery"]
        widget.ui.nextCaseButton.click()
        assert InputDialog.questions == [("Review store password", f"Password for {server.url}:", 2)]
        assert widget.logic.hasOpenCase() and "/cases/case-1/" in widget.logic.desk.case.image_location
        widget.logic.closeCase()
        widget.ui.nextCaseButton.click()  # signed in: not asked again
        assert len(InputDialog.questions) == 1 and widget.logic.hasOpenCase()
        settings = (Path(application.app.temporaryPath).parent / "Slicer.ini").read_text()
        sessions = json.loads(Path(os.environ["DICOM_ANNOTATOR_CONFIG"], "sessions.json").read_text())
        assert server.url in settings and "horse" not in settings
        assert sessions[server.url]["user"] == "ann" and "horse" not in json.dumps(sessions)
    finally:
        server.stop()


# ----------------------------------------------------------------------------- the reviewer's handlers
def test_review_handlers_keep_the_panel_in_line_with_the_case(application, liver_case, tmp_path, caplog):
    url, labels, folder = liver_case
    protocol = load_protocol("liver-lesions-ct")
    from DICOMAnnotatorLib.imaging.series import ReferenceSeries

    series = ReferenceSeries.from_paths(folder)
    with review.ReviewStore(url) as store:
        for name in ("ann", "ben"):
            drawn = Segmentation.from_labelmap(series.geometry, np.where(labels == 3, 0, labels),
                                               protocol.segment_descriptions(), reference=series, author=name)
            review.submit(store, 1, name, write_seg(drawn, tmp_path / f"{name}.dcm"))
    slicer.dicomDatabase = DICOMDatabase(Path(application.app.temporaryPath) / "user-database")
    widget = application.widget(application.load_module("DICOMAnnotatorReview"), "DICOMAnnotatorReview")
    for line_edit, text in ((widget.ui.storeURLLineEdit, url), (widget.ui.userNameLineEdit, "rev"),
                            (widget.ui.projectNameLineEdit, "liver"), (widget.ui.workFolderLineEdit,
                                                                       str(tmp_path / "rev"))):
        type_into(line_edit, text)
    actions = widget.caseActions()
    assert {button.enabled for button in actions} == {False}

    widget.ui.nextCaseButton.click()
    assert {button.enabled for button in actions} == {True}
    assert widget.ui.showOnlyComboBox.items == ["All submissions", "ann", "ben"]
    assert widget.ui.agreementTableWidget.headers[0] == "Segment"
    widget.ui.signButton.click()  # not approved yet
    assert "could not be signed" in caplog.text and widget.logic.hasOpenCase()
    assert {button.enabled for button in actions} == {True}
    widget.ui.editConsensusButton.click()  # nothing built yet: the Segment Editor module is not opened
    assert ("selectModule", "SegmentEditor") not in application.recorded
    widget.ui.buildConsensusButton.click()
    widget.ui.editConsensusButton.click()
    assert ("selectModule", "SegmentEditor") in application.recorded
    widget.ui.recordConsensusButton.click()
    assert "recorded" in widget.ui.caseTextLabel.text
    widget.ui.exportSegCheckBox.checked = True
    widget.ui.exportButton.click()
    exported = pydicom.dcmread(tmp_path / "rev" / "exports" / "case-1" / "consensus.dcm", stop_before_pixels=True)
    [copy] = slicer.dicomDatabase.filesForSeries(exported.SeriesInstanceUID)
    assert Path(copy).parent == slicer.dicomDatabase.folder
    assert slicer.dicomDatabase.filesForSeries(series.series_instance_uid), "the case's series came from the database"

    slicer.mrmlScene.Clear(0)
    assert not widget.logic.hasOpenCase() and {button.enabled for button in actions} == {False}
    assert widget.ui.showOnlyComboBox.items == [] and application.app.override_cursors == 0


# ----------------------------------------------------------------------------- the modules' self-tests
@pytest.mark.parametrize("module_name", ["DICOMAnnotator", "DICOMAnnotatorReview"])
def test_self_tests_work_in_a_temporary_dicom_database(application, module_name, caplog):
    """"Reload and Test" leaves the user's DICOM database as it was (DICOMUtils.TemporaryDICOMDatabase)."""
    users = DICOMDatabase(Path(application.app.temporaryPath) / "user-database")
    slicer.dicomDatabase = users
    if module_name == "DICOMAnnotatorReview":
        application.load_module("DICOMAnnotator")
    module = application.load_module(module_name)
    caplog.set_level(logging.INFO)
    getattr(module, f"{module_name}Test")().runTest()
    assert slicer.dicomDatabase is users and users.series == {}
    assert not users.folder.exists(), "nothing was copied into the user's database folder"
    action = "annotate" if module_name == "DICOMAnnotator" else "review"
    assert application.packaging.ensured[0][2] is False, f"the self-test ensures the {action} packages in testing mode"
