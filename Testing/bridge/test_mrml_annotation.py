"""The annotator's Logic on real MRML nodes (slicer-core): protocol, window, checklist, labels, marks, drafts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from DICOMAnnotatorLib.dicom.codes import Code
from DICOMAnnotatorLib.errors import InputError
from DICOMAnnotatorLib.imaging.segmentation import Segmentation
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.mrml import bridge
from DICOMAnnotatorLib.mrml.annotation import AnnotationSession
from DICOMAnnotatorLib.protocols import load_protocol
from DICOMAnnotatorLib.seg.reader import read_seg

pytestmark = pytest.mark.bridge


def _session(write_phantom, protocol_id="liver-lesions-ct"):
    folder, geometry, _, labels = write_phantom()
    series = ReferenceSeries.from_paths(folder)
    scene = bridge.create_headless_scene()
    return AnnotationSession(scene, series, load_protocol(protocol_id), user="Doe^Jane"), labels


def _paint(session, labels, *numbers):
    """Draw the phantom's structures ``numbers`` (1 liver, 2 lesion) into the session's node."""
    descriptions = [d for d in session.protocol.segment_descriptions() if d.number in numbers]
    drawn = Segmentation.from_labelmap(session.series.geometry, np.where(np.isin(labels, numbers), labels, 0),
                                       descriptions, reference=session.series)
    bridge.segmentation_to_node(drawn, session.scene, session.volume_node, node=session.segmentation_node)


def test_protocol_gives_coded_segments_and_its_window_once(write_phantom):
    session, _ = _session(write_phantom)
    first = session.apply_protocol()
    assert session.apply_protocol() == first
    assert session.segmentation_node.GetSegmentation().GetNumberOfSegments() == 2
    back = session.segmentation()
    assert [(d.label, d.type.value) for d in back.segments] == [("Liver", "10200004"), ("Liver lesion", "52988006")]
    display = session.volume_node.GetScalarVolumeDisplayNode()
    assert (display.GetWindow(), display.GetLevel(), display.GetAutoWindowLevel()) == (150, 30, 0)
    session.apply_window("abdomen")
    assert (display.GetWindow(), display.GetLevel()) == (400, 50)
    with pytest.raises(InputError, match="no window 'lung'"):
        session.apply_window("lung")


def test_the_window_follows_the_series_modality(write_phantom):
    """A PET/CT protocol's CT settings give the CT its window; a PET protocol's windows (SUV) do not land on a CT."""
    from DICOMAnnotatorLib.protocols import Protocol

    data = load_protocol("liver-lesions-ct").to_dict()
    data["modality_settings"] = {"CT": {"window_presets": ["bone"]}, "PT": {"window_presets": []}}
    session, _ = _session(write_phantom)
    session.protocol = Protocol.from_dict(data)
    session.apply_protocol()
    display = session.volume_node.GetScalarVolumeDisplayNode()
    assert [p.name for p in session.window_presets] == ["bone"]
    assert (display.GetWindow(), display.GetLevel()) == (1800, 400)
    data.update(modality="PT", window_presets=[{"name": "SUV", "center": 5, "width": 10}], modality_settings={})
    session.protocol = Protocol.from_dict(data)
    assert session.window_presets == ()
    with pytest.raises(InputError, match="no window 'SUV' for CT images; it has none"):
        session.apply_window("SUV")


def test_checklist_and_submit_wait_for_required_structures(write_phantom, tmp_path):
    session, labels = _session(write_phantom)
    session.apply_protocol()
    assert {i.label: i.done for i in session.checklist()} == {"Liver": False, "Liver lesion": True,
                                                              "Liver lesion type": True}
    with pytest.raises(InputError, match="Required structure.*Liver"):
        session.submit(tmp_path)
    _paint(session, labels, 1, 2)
    assert all(item.done for item in session.checklist())
    cyst = next(v for v in session.protocol.structure("Liver lesion type").values if v.meaning == "Cyst")
    session.set_label("Liver lesion", "Liver lesion type", cyst)
    files = session.submit(tmp_path)
    seg = read_seg(files.seg, session.series)
    assert seg.author == "Doe^Jane"
    assert np.array_equal(seg.mask(1), labels == 1) and np.array_equal(seg.mask(2), labels == 2)
    content = json.loads(files.annotations.read_text())
    assert content["labels"] == [{"segment": "Liver lesion", "name": "Liver lesion type", "value": cyst.as_list()}]
    with pytest.raises(Exception, match="already exists"):
        session.submit(tmp_path)


def test_labels_are_checked_against_the_protocol(write_phantom):
    session, _ = _session(write_phantom)
    with pytest.raises(InputError, match="not a value of 'Liver lesion type'"):
        session.set_label("Liver lesion", "Liver lesion type", Code("1", "SCT", "Nonsense"))
    with pytest.raises(InputError, match="applies to Liver lesion, not 'Liver'"):
        session.set_label("Liver", "Liver lesion type", session.protocol.structure("Liver lesion type").values[0])
    with pytest.raises(InputError, match="not a classification"):
        session.set_label("Liver", "Liver lesion", Code("1", "SCT", "x"))


def test_landmarks_become_markups_and_marks_in_lps(write_phantom):
    session, _ = _session(write_phantom, "vertebral-fractures-ct")
    session.apply_protocol()
    node = session.markups_node("L1")
    assert node.GetClassName() == "vtkMRMLMarkupsFiducialNode"
    node.AddControlPointWorld(10.0, -20.0, 30.0)  # RAS
    assert session.marks() == [{"kind": "point", "label": "L1", "points_mm": [[-10.0, 20.0, 30.0]]}]
    counts = {i.label: i.count for i in session.checklist()}
    assert counts["L1"] == 1 and counts["T4"] == 0
    assert not next(i for i in session.checklist() if i.label == "Genant fracture grade").done


def test_a_draft_resumes_in_a_new_scene(write_phantom, tmp_path):
    session, labels = _session(write_phantom)
    session.apply_protocol()
    _paint(session, labels, 1)
    cyst = session.protocol.structure("Liver lesion type").values[0]
    session.set_label("Liver lesion", "Liver lesion type", cyst)
    draft = session.save_draft(tmp_path)
    session.save_draft(tmp_path)  # a later draft replaces the earlier one

    resumed = AnnotationSession(bridge.create_headless_scene(), session.series, session.protocol,
                                user="Doe^Jane")
    resumed.apply_protocol()
    resumed.resume_draft(draft)
    assert np.array_equal(resumed.segmentation().mask(1), labels == 1)
    assert resumed.labels == session.labels
    assert resumed.segmentation_node.GetSegmentation().GetNumberOfSegments() == 2
