"""What the 2D image and cine tests share: a radiograph protocol, a cine protocol of one outline, an exam of views.

The shipped protocols cover CT, MR, mammography and echocardiography; radiographs need one of their own here,
and the browser test of a cine paints one structure (the echocardiography protocol's end-diastolic outline),
so that choosing a segment in the editor is not part of what it tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
from DICOMAnnotatorLib.protocols import Protocol, load_protocol


def fracture_protocol() -> Protocol:
    """A radiograph protocol: a fracture region (a segment) and the fracture site (a landmark)."""
    data = load_protocol("liver-lesions-ct").to_dict()
    data.update(id="fracture-dx-test", modality="DX", title="Fracture on radiographs", window_presets=[],
                review_tiers=[{"name": "Radiologist review", "role": "radiologist"}])
    data["structures"] = [
        {"label": "Fracture", "kind": "volume", "label_value": 1,
         "category": {"code_value": "49755003", "coding_scheme_designator": "SCT",
                      "code_meaning": "Morphologically Abnormal Structure"},
         "type": {"code_value": "72704001", "coding_scheme_designator": "SCT", "code_meaning": "Fracture"},
         "color": "#f1d691"},
        {"label": "Fracture site", "kind": "landmark", "required": False,
         "category": {"code_value": "49755003", "coding_scheme_designator": "SCT",
                      "code_meaning": "Morphologically Abnormal Structure"},
         "type": {"code_value": "72704001", "coding_scheme_designator": "SCT", "code_meaning": "Fracture"},
         "anatomic_region": {"code_value": "71341001", "coding_scheme_designator": "SCT", "code_meaning": "Bone"}},
    ]
    return Protocol.from_dict(data, source="the planar cases tests' protocol")


def cine_protocol() -> Protocol:
    """lv-function-echo-us with its end-diastolic outline only (no ejection fraction), one annotator, no review."""
    data = load_protocol("lv-function-echo-us").to_dict()
    data.update(id="lv-outline-test", annotators_per_case=1, review_tiers=[])
    data.pop("ejection_fraction")
    data["structures"] = data["structures"][:1]
    return Protocol.from_dict(data, source="the planar cases tests' cine protocol")


def write_protocol(protocol: Protocol, path: Path) -> Path:
    path.write_text(json.dumps(protocol.to_dict(), indent=2), encoding="utf-8")
    return path


def exam_folder(folder: Path, image: Path, views: int = 2) -> Path:
    """A series of ``views`` images in ``folder``: copies of ``image`` as instances of their own (as an exam's views
    of one detector are), numbered 1 to ``views``."""
    folder.mkdir(parents=True)
    source = pydicom.dcmread(image)
    for number in range(1, views + 1):
        source.SOPInstanceUID, source.InstanceNumber = pydicom.uid.generate_uid(), number
        source.save_as(folder / f"view-{number}.dcm")
    return folder
