"""The protocol model and loading: shipped protocols, ids and paths, queries, round trips."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from DICOMAnnotatorLib.dicom.codes import Code
from DICOMAnnotatorLib.errors import InputError, ProtocolError
from DICOMAnnotatorLib.imaging.segmentation import DEFAULT_COLOR
from DICOMAnnotatorLib.protocols import (
    CT_WINDOW_PRESETS,
    SHIPPED_PROTOCOLS_DIR,
    AnnotationKind,
    ConsensusMethod,
    ExpectedCount,
    Protocol,
    ReviewRole,
    StructureTemplate,
    WindowPreset,
    load_protocol,
    parse_color,
    protocol_schema,
    shipped_protocol_ids,
    shipped_protocols,
)

SHIPPED = ["breast-lesions-mg", "cardiac-chambers-mr", "intracranial-hemorrhage-ct", "liver-lesions-ct",
           "lung-nodules-ct", "lv-function-echo-us", "mammography-screening-mg", "vertebral-fractures-ct"]


def test_the_shipped_protocols_load_and_are_named_after_their_ids():
    assert shipped_protocol_ids() == SHIPPED
    protocols = shipped_protocols()
    assert [p.id for p in protocols] == SHIPPED
    for protocol in protocols:
        assert protocol.source == SHIPPED_PROTOCOLS_DIR / f"{protocol.id}.json"
        raw = json.loads(protocol.source.read_text())
        jsonschema.Draft202012Validator(protocol_schema()).validate(raw)
        assert protocol.instructions is not None and protocol.edge_cases, "shipped protocols explain edge cases"


@pytest.mark.parametrize("protocol_id", SHIPPED)
def test_shipped_protocols_are_sound(protocol_id):
    protocol = load_protocol(protocol_id)
    values = [s.label_value for s in protocol.segment_structures]
    assert values == list(range(1, len(values) + 1)), "label values run 1..N"
    for structure in protocol.structures:
        if structure.kind is AnnotationKind.CLASSIFICATION:  # of findings, or of the whole exam (density)
            assert structure.values and (structure.applies_to or structure.required)
        else:
            assert structure.category is not None and structure.color is not None
    if protocol.modality == "CT":
        assert protocol.default_window is not None
    assert Protocol.from_dict(protocol.to_dict()) == protocol
    jsonschema.Draft202012Validator(protocol_schema()).validate(protocol.to_dict())


def test_shipped_protocols_hold_what_the_issue_asks_for():
    lung = load_protocol("lung-nodules-ct")
    nodule = lung.structure("Nodule")
    assert nodule.type == Code("27925004", "SCT", "Nodule") and nodule.label_value == 1
    assert {v.meaning for v in lung.classifications_for("Nodule")[0].values} >= {"Benign", "Malignant"}
    ich = load_protocol("intracranial-hemorrhage-ct")
    subtypes = [s for s in ich.structures if s.type.value == "50960005"]
    assert len(subtypes) == 5 and len({(s.anatomic_region, s.anatomic_region_modifier) for s in subtypes}) == 5
    liver = load_protocol("liver-lesions-ct")
    assert liver.structure("Liver").required and liver.structure("Liver").expected_count == ExpectedCount(1, 1)
    assert liver.structure("Liver lesion").anatomic_region == Code("10200004", "SCT", "Liver")
    cardiac = load_protocol("cardiac-chambers-mr")
    assert cardiac.modality == "MR" and cardiac.window_presets == ()
    assert {s.type.meaning for s in cardiac.segment_structures} >= {"Left ventricle", "Right ventricle"}
    spine = load_protocol("vertebral-fractures-ct")
    landmarks = [s for s in spine.structures if s.kind is AnnotationKind.LANDMARK]
    assert len(landmarks) == 13 and spine.segment_descriptions() == []
    grade = spine.classifications_for("L1")[0]
    assert [v.meaning for v in grade.values] == ["None", "Mild", "Moderate", "Severe"]
    breast = load_protocol("breast-lesions-mg")
    assert {s.kind for s in breast.structures} == {AnnotationKind.BOX, AnnotationKind.CLASSIFICATION}
    birads = breast.classifications_for("Mass")[0]
    assert birads.type == Code("111005", "DCM", "Assessment Category") and len(birads.values) == 10


def test_segment_descriptions_and_label_values():
    lung = load_protocol("lung-nodules-ct")
    descriptions = lung.segment_descriptions()
    assert [d.number for d in descriptions] == [1, 2, 3]
    right = descriptions[1]
    assert right.label == "Right lung" and right.type_modifier == Code("24028007", "SCT", "Right")
    assert right.category == Code("91723000", "SCT", "Anatomical Structure") and right.color == (197, 165, 145)
    assert descriptions[0].anatomic_region == Code("39607008", "SCT", "Lung")
    assert lung.structure_for_label_value(2).label == "Right lung"
    assert lung.structure_for_label_value(9) is None
    with pytest.raises(KeyError, match="has no structure 'Tumour'; its structures are 'Nodule'"):
        lung.structure("Tumour")
    with pytest.raises(ValueError, match="is a classification structure, not a segment"):
        lung.structure("Nodule malignancy").segment_description()


def test_load_by_path_id_and_errors(tmp_path: Path):
    path = SHIPPED_PROTOCOLS_DIR / "liver-lesions-ct.json"
    assert load_protocol(path) == load_protocol("liver-lesions-ct") == load_protocol(str(path))
    with pytest.raises(InputError, match="'no-such' is neither a protocol file nor a shipped protocol id; shipped "
                                         "ids are breast-lesions-mg, "):
        load_protocol("no-such")
    with pytest.raises(InputError, match="Protocol file .*absent.json not found"):
        load_protocol(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"id": "x",\n  "version": }')
    with pytest.raises(ProtocolError) as caught:
        load_protocol(broken)
    assert caught.value.problems == ["line 2 column 14: not valid JSON (Expecting value)"]
    copy = tmp_path / "mine.json"
    copy.write_text(path.read_text())
    assert load_protocol(copy).source == copy


def test_compact_forms_are_read_and_written_canonically():
    data = json.loads((SHIPPED_PROTOCOLS_DIR / "liver-lesions-ct.json").read_text())
    data["structures"][1]["color"] = [1, 2, 3]
    protocol = Protocol.from_dict(data)
    assert protocol.window_presets == (CT_WINDOW_PRESETS["liver"], CT_WINDOW_PRESETS["abdomen"])
    assert protocol.structure("Liver lesion").color == (1, 2, 3)
    assert protocol.structure("Liver lesion type").applies_to == ("Liver lesion",)
    canonical = protocol.to_dict()
    assert canonical["window_presets"][0] == {"name": "liver", "center": 30, "width": 150}
    assert canonical["structures"][1]["color"] == "#010203"
    assert canonical["structures"][0]["expected_count"] == {"min": 1, "max": 1}
    assert "expected_count" not in canonical["structures"][2]
    assert protocol.consensus.method is ConsensusMethod.STAPLE
    assert [t.role for t in protocol.review_tiers] == [ReviewRole.REVIEWER, ReviewRole.RADIOLOGIST]


def test_a_protocol_built_in_code_is_validated_too():
    liver = Code("10200004", "SCT", "Liver")
    anatomy = Code("91723000", "SCT", "Anatomical Structure")
    structure = StructureTemplate("Liver", AnnotationKind.VOLUME, liver, anatomy, label_value=1)
    protocol = Protocol("p", "1", "P", "CT", "ABDOMEN", [structure])
    assert protocol.structures == (structure,) and structure.display_color == DEFAULT_COLOR
    assert structure.expected_count == ExpectedCount(0, None)
    with pytest.raises(ProtocolError) as caught:
        Protocol("p", "1", "P", "CT", "ABDOMEN", [structure, StructureTemplate("liver", "volume", liver, anatomy,
                                                                                label_value=1)])
    assert caught.value.problems[0].startswith("structures[1].label: duplicate label 'liver' (also structures[0])")
    assert any(p.startswith("structures[1].label_value: 1 is also") for p in caught.value.problems)
    assert any(p.startswith("structures[1].type: same codes as structures[0]") for p in caught.value.problems)


def test_value_objects_state_the_rule_and_the_value():
    with pytest.raises(ValueError, match="Window preset 'x' needs a width greater than 0, found 0"):
        WindowPreset("x", 0, 0)
    assert WindowPreset("lung", -600, 1500).lower == -1350
    assert parse_color("#FF8000") == (255, 128, 0) and parse_color([1, 2, 3]) == (1, 2, 3)
    for bad in ("#ff80", "orange", [1, 2], [1, 2, 300], [True, 0, 0]):
        with pytest.raises(ValueError, match="A colour must be '#rrggbb' or \\[r, g, b\\] with integers 0-255"):
            parse_color(bad)
    assert ExpectedCount(0, None).allows(5) and not ExpectedCount(1, 1).allows(2)
    assert str(ExpectedCount(0, 1)) == "0-1" and str(ExpectedCount(1, None)) == "1+"


def test_ct_presets_are_the_usual_ones():
    assert {name: (p.center, p.width) for name, p in CT_WINDOW_PRESETS.items()} == {
        "lung": (-600, 1500), "mediastinum": (50, 350), "bone": (400, 1800), "brain": (40, 80),
        "subdural": (75, 200), "abdomen": (50, 400), "liver": (30, 150)}
