"""Protocol validation: every rule, its JSON path and its message; all problems reported at once."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from DICOMAnnotatorLib.errors import ProtocolError
from DICOMAnnotatorLib.protocols import Protocol, load_protocol_file, validate_protocol_data


def code(value: str, scheme: str, meaning: str) -> dict[str, str]:
    return {"code_value": value, "coding_scheme_designator": scheme, "code_meaning": meaning}


ANATOMY = code("91723000", "SCT", "Anatomical Structure")
ABNORMAL = code("49755003", "SCT", "Morphologically Abnormal Structure")
LIVER = code("10200004", "SCT", "Liver")
LESION = code("52988006", "SCT", "Lesion")

BASE = {
    "id": "liver-test",
    "version": "1.0",
    "title": "Liver test",
    "modality": "CT",
    "body_part": "ABDOMEN",
    "window_presets": ["liver", {"name": "wide", "center": 40, "width": 600}],
    "annotators_per_case": 2,
    "review_tiers": [{"name": "Sign-off", "role": "radiologist"}],
    "consensus": {"method": "staple", "threshold": 0.5},
    "structures": [
        {"label": "Liver", "kind": "volume", "label_value": 1, "category": ANATOMY, "type": LIVER,
         "color": "#dd8265", "required": True},
        {"label": "Lesion", "kind": "volume", "label_value": 2, "category": ABNORMAL, "type": LESION,
         "anatomic_region": LIVER, "color": [144, 238, 144]},
        {"label": "Marker", "kind": "landmark", "category": ANATOMY, "type": code("76752008", "SCT", "Breast")},
        {"label": "Lesion type", "kind": "classification", "type": code("121071", "DCM", "Finding"),
         "values": [code("367643001", "SCT", "Cyst"), code("108369006", "SCT", "Neoplasm")], "applies_to": "Lesion"},
    ],
}


def problems_of(data: object, **kwargs) -> list[str]:
    return [str(p) for p in validate_protocol_data(data, **kwargs)]


def mutated(change) -> dict:
    data = json.loads(json.dumps(BASE))  # no shared sub-objects (deepcopy would keep LIVER shared)
    change(data)
    return data


def test_the_base_protocol_is_valid():
    assert problems_of(BASE) == []
    protocol = Protocol.from_dict(BASE)
    assert [s.label for s in protocol.structures] == ["Liver", "Lesion", "Marker", "Lesion type"]


def _set(path: str, value):
    """A mutation setting a dotted path (``structures.0.type.coding_scheme_designator``)."""

    def change(data):
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target = data
        for part in parents:
            target = target[part]
        target[last] = value

    return change


def _delete(path: str):
    def change(data):
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target = data
        for part in parents:
            target = target[part]
        del target[last]

    return change


CASES = {
    # coding schemes and code values
    "scheme alias SNOMED": (_set("structures.0.type.coding_scheme_designator", "SNOMED"),
                            "structures[0].type.coding_scheme_designator: unknown coding scheme 'SNOMED'; use 'SCT'"),
    "scheme alias SNOMED-CT": (_set("structures.0.category.coding_scheme_designator", "SNOMED-CT"),
                               "structures[0].category.coding_scheme_designator: unknown coding scheme 'SNOMED-CT'; "
                               "use 'SCT'"),
    "scheme SRT retired": (_set("structures.0.type.coding_scheme_designator", "SRT"),
                           "structures[0].type.coding_scheme_designator: coding scheme 'SRT' (SNOMED RT) is retired"),
    "scheme LOINC alias": (_set("structures.3.type.coding_scheme_designator", "LOINC"),
                           "structures[3].type.coding_scheme_designator: unknown coding scheme 'LOINC'; use 'LN'"),
    "scheme wrong case": (_set("structures.3.type.coding_scheme_designator", "dcm"),
                          "structures[3].type.coding_scheme_designator: unknown coding scheme 'dcm'; use 'DCM'"),
    "scheme unknown": (_set("structures.3.values.0.coding_scheme_designator", "XYZ"),
                       "structures[3].values[0].coding_scheme_designator: unknown coding scheme 'XYZ'; use one of"),
    "SCT check digit": (_set("structures.0.type.code_value", "10200005"),
                        "structures[0].type.code_value: '10200005' is not a valid SNOMED CT concept id "
                        "(wrong check digit"),
    "SCT not digits": (_set("structures.0.type.code_value", "T-62000"),
                       "structures[0].type.code_value: 'T-62000' is not a SNOMED CT concept id (6 to 18 digits"),
    "SCT partition": (_set("structures.0.type.code_value", "10200024"),
                      "structures[0].type.code_value: '10200024' is not a SNOMED CT concept id (its partition digits"),
    "one code two meanings": (_set("structures.1.anatomic_region.code_meaning", "Hepar"),
                              "structures[1].anatomic_region.code_meaning: code (SCT, 10200004) means 'Liver' at "
                              "structures[0].type; one code has one meaning, found 'Hepar'"),
    "separator in meaning": (_set("structures.0.type.code_meaning", "Liver^left"),
                             "structures[0].type.code_meaning: must not hold ~ ^ | \\"),
    "code as a string": (_set("structures.0.type", "SCT:10200004"),
                         "structures[0].type: must be a code {\"code_value\", \"coding_scheme_designator\", "
                         "\"code_meaning\"}; found 'SCT:10200004'"),
    "code meaning missing": (_delete("structures.0.type.code_meaning"),
                             "structures[0].type.code_meaning: missing (required field)"),
    "code value empty": (_set("structures.0.type.code_value", ""), "structures[0].type.code_value: must not be empty"),
    "code meaning too long": (_set("structures.0.type.code_meaning", "x" * 65),
                              "structures[0].type.code_meaning: must be at most 64 characters (a DICOM limit), "
                              "found 65"),
    # labels, label values, codes
    "duplicate label": (_set("structures.1.label", "liver"),
                        "structures[1].label: duplicate label 'liver' (also structures[0])"),
    "label with separator": (_set("structures.1.label", "Lesion|1"), "structures[1].label: must not hold"),
    "duplicate label value": (_set("structures.1.label_value", 1),
                              "structures[1].label_value: 1 is also the label_value of structures[0] ('Liver'); "
                              "each label value names one structure"),
    "label value missing": (_delete("structures.1.label_value"),
                            "structures[1].label_value: missing: a volume structure needs a label_value"),
    "label value on a landmark": (_set("structures.2.label_value", 3),
                                  "structures[2].label_value: only volume and contour structures have a label_value; "
                                  "this landmark structure has 3"),
    "label value zero": (_set("structures.0.label_value", 0), "structures[0].label_value: must be at least 1, found 0"),
    "label value too big": (_set("structures.0.label_value", 70000),
                            "structures[0].label_value: must be at most 65535, found 70000"),
    "duplicate codes": (_set("structures.1.anatomic_region", None),
                        "structures[1].anatomic_region: must be a code"),
    # colours
    "colour short hex": (_set("structures.0.color", "#12345"),
                         "structures[0].color: must be '#rrggbb' or [r, g, b] with integers 0-255; found '#12345'"),
    "colour name": (_set("structures.0.color", "red"),
                    "structures[0].color: must be '#rrggbb' or [r, g, b] with integers 0-255; found 'red'"),
    "colour out of range": (_set("structures.0.color", [256, 0, 0]),
                            "structures[0].color: must be '#rrggbb' or [r, g, b] with integers 0-255; "
                            "found [256, 0, 0]"),
    "colour two components": (_set("structures.0.color", [1, 2]),
                              "structures[0].color: must be '#rrggbb' or [r, g, b] with integers 0-255; found [1, 2]"),
    "colour floats": (_set("structures.0.color", [0.5, 0.5, 0.5]), "structures[0].color: must be '#rrggbb'"),
    # required fields, kinds, unknown fields
    "id missing": (_delete("id"), "id: missing (required field)"),
    "structures missing": (_delete("structures"), "structures: missing (required field)"),
    "no structures": (_set("structures", []), "structures: needs at least 1 item(s), found 0"),
    "type missing": (_delete("structures.0.type"), "structures[0].type: missing (required field)"),
    "unknown kind": (_set("structures.0.kind", "polygon"),
                     "structures[0].kind: unknown annotation kind 'polygon'; use one of volume, contour, box, "
                     "landmark, classification"),
    "unknown field": (_set("structures.0.colour", "#ffffff"),
                      "structures[0].colour: unknown field; allowed fields are"),
    "unknown top-level field": (_set("annotators", 2), "annotators: unknown field; allowed fields are"),
    "category missing on a landmark": (_delete("structures.2.category"),
                                       "structures[2].category: missing: a landmark structure needs a category"),
    "id pattern": (_set("id", "Liver Test"), "id: must be 1 to 64 lower-case letters"),
    "version pattern": (_set("version", "v1"), "version: must be a version such as '1', '1.2' or '1.2.0'; found 'v1'"),
    "modality pattern": (_set("modality", "ct"), "modality: must be a DICOM Modality (0008,0060)"),
    "empty title": (_set("title", ""), "title: must not be empty"),
    "required not a boolean": (_set("structures.0.required", "yes"),
                               "structures[0].required: must be a boolean, found string \"yes\""),
    # classifications
    "classification without values": (_delete("structures.3.values"),
                                      "structures[3].values: missing: a classification needs its allowed values"),
    "classification with empty values": (_set("structures.3.values", []),
                                         "structures[3].values: needs at least 1 item(s), found 0"),
    "duplicate value": (_set("structures.3.values.1", code("367643001", "SCT", "Cyst")),
                        "structures[3].values[1]: duplicate value (SCT, 367643001) (also values[0])"),
    "values on a volume": (_set("structures.0.values", [code("367643001", "SCT", "Cyst")]),
                           "structures[0].values: only classification structures have values; this is a volume "
                           "structure"),
    "applies to unknown label": (_set("structures.3.applies_to", "Tumour"),
                                 "structures[3].applies_to: no structure is labelled 'Tumour'; labels are 'Liver', "
                                 "'Lesion', 'Marker', 'Lesion type'"),
    "applies to a classification": (_set("structures.3.applies_to", ["Lesion", "Lesion type"]),
                                    "structures[3].applies_to[1]: 'Lesion type' is a classification"),
    "applies_to on a volume": (_set("structures.0.applies_to", "Lesion"),
                               "structures[0].applies_to: only classification structures have applies_to"),
    "applies_to a number": (_set("structures.3.applies_to", 3),
                            "structures[3].applies_to: must be a structure label or a list of labels; found 3"),
    # expected counts
    "count min above max": (_set("structures.1.expected_count", {"min": 3, "max": 1}),
                            "structures[1].expected_count: min 3 is greater than max 1"),
    "required with minimum 0": (_set("structures.0.expected_count", {"min": 0}),
                                "structures[0].expected_count: a required structure needs a minimum count of at least "
                                "1, found 0"),
    "optional with minimum 1": (_set("structures.1.expected_count", 2),
                                "structures[1].expected_count: a minimum count of 2 makes the structure required"),
    "count on a classification": (_set("structures.3.expected_count", 1),
                                  "structures[3].expected_count: does not apply to a classification"),
    "negative count": (_set("structures.1.expected_count", -1), "structures[1].expected_count: must be a count"),
    # windows, consensus, annotators, review
    "window width zero": (_set("window_presets.1.width", 0),
                          "window_presets[1].width: must be greater than 0, found 0"),
    "window width negative": (_set("window_presets.1.width", -10),
                              "window_presets[1].width: must be greater than 0, found -10"),
    "window without center": (_delete("window_presets.1.center"), "window_presets[1].center: missing (required field)"),
    "unknown built-in window": (_set("window_presets.0", "lungs"),
                                "window_presets[0]: unknown built-in window preset 'lungs'; use one of lung"),
    "window not a name or object": (_set("window_presets.0", 5),
                                    "window_presets[0]: must be a built-in CT preset name or an object"),
    "duplicate window names": (_set("window_presets.1.name", "Liver"),
                               "window_presets[1].name: duplicate window preset name 'Liver' (also window_presets[0])"),
    "CT preset on MR": (_set("modality", "MR"), "window_presets[0]: 'liver' is a built-in CT preset (Hounsfield units) "
                        "but the modality is 'MR'"),
    "threshold zero": (_set("consensus.threshold", 0), "consensus.threshold: must be greater than 0, found 0"),
    "threshold above one": (_set("consensus.threshold", 1.5), "consensus.threshold: must be at most 1, found 1.5"),
    "unknown consensus method": (_set("consensus.method", "vote"),
                                 "consensus.method: unknown consensus method 'vote'; use 'majority' or 'staple'"),
    "no annotators": (_set("annotators_per_case", 0), "annotators_per_case: must be at least 1, found 0"),
    "annotators not an integer": (_set("annotators_per_case", 1.5),
                                  "annotators_per_case: must be an integer, found number 1.5"),
    "unknown review role": (_set("review_tiers.0.role", "boss"),
                            "review_tiers[0].role: unknown role 'boss'; use one of annotator, reviewer, radiologist, "
                            "lead"),
    "duplicate review tier names": (_set("review_tiers", [{"name": "A", "role": "reviewer"},
                                                          {"name": "a", "role": "lead"}]),
                                    "review_tiers[1].name: duplicate review tier name 'a' (also review_tiers[0])"),
    "absolute reference image": (_set("instructions", {"text": "t", "reference_images": [{"path": "/tmp/x.png"}]}),
                                 "instructions.reference_images[0].path: must be relative to the protocol file"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_rule_reports_its_path_and_message(name):
    change, expected = CASES[name]
    problems = problems_of(mutated(change))
    assert any(p.startswith(expected) for p in problems), f"{expected!r} not in {problems}"
    with pytest.raises(ProtocolError) as caught:
        Protocol.from_dict(mutated(change), source="test.json")
    assert any(p.startswith(expected) for p in caught.value.problems)
    assert str(caught.value).startswith("test.json is not a valid protocol")


def test_duplicate_codes_are_an_error_but_a_different_region_is_not():
    same = mutated(_delete("structures.1.anatomic_region"))
    same["structures"].append({"label": "Lesion 2", "kind": "volume", "label_value": 3, "category": ABNORMAL,
                               "type": LESION})
    assert problems_of(same) == [
        "structures[4].type: same codes as structures[1] ('Lesion'): category, type, type modifier and anatomic "
        "region (with modifier) together must differ, because structures are matched by their codes"]
    other_region = copy.deepcopy(same)
    other_region["structures"][4]["anatomic_region"] = code("39607008", "SCT", "Lung")
    assert problems_of(other_region) == []
    other_modifier = copy.deepcopy(same)
    other_modifier["structures"][4]["type_modifier"] = code("24028007", "SCT", "Right")
    assert problems_of(other_modifier) == []


def test_accepted_forms():
    for color in ("#A0b0C0", [0, 0, 0], [255, 255, 255]):
        assert problems_of(mutated(_set("structures.0.color", color))) == []
    assert problems_of(mutated(_set("structures.0.type.coding_scheme_designator", "99MYORG"))) == []
    assert problems_of(mutated(_set("structures.1.expected_count", {"min": 0, "max": None}))) == []
    assert problems_of(mutated(_set("structures.0.expected_count", 1))) == []
    assert problems_of(mutated(_set("structures.3.applies_to", ["Lesion", "Marker"]))) == []
    assert problems_of(mutated(_set("structures.0.kind", "contour"))) == []
    assert problems_of(mutated(_set("consensus.threshold", 1))) == []
    url = {"text": "t", "reference_images": [{"path": "https://example.org/a.png", "caption": "c"}]}
    assert problems_of(mutated(_set("instructions", url))) == []


def test_every_problem_is_reported_at_once_in_path_order():
    data = mutated(lambda d: (
        d["structures"][0]["type"].update(coding_scheme_designator="SNOMED"),
        d["structures"][1].update(kind="polygon"),
        d["structures"][2].update(label="LIVER", color="#ggg"),
        d.update(annotators_per_case=0),
        d["window_presets"][1].update(width=0),
    ))
    problems = problems_of(data)
    assert problems == [
        "annotators_per_case: must be at least 1, found 0",
        "structures[0].type.coding_scheme_designator: unknown coding scheme 'SNOMED'; use 'SCT'",
        "structures[1].kind: unknown annotation kind 'polygon'; use one of volume, contour, box, landmark, "
        "classification",
        "structures[2].color: must be '#rrggbb' or [r, g, b] with integers 0-255; found '#ggg'",
        "structures[2].label: duplicate label 'LIVER' (also structures[0]); labels name segments and files, so each "
        "must differ (ignoring case)",
        "window_presets[1].width: must be greater than 0, found 0",
    ]
    with pytest.raises(ProtocolError) as caught:
        Protocol.from_dict(data, source="p.json")
    assert caught.value.problems == problems and "(6 problem(s))" in str(caught.value)


def test_paths_sort_by_index_not_text():
    data = copy.deepcopy(BASE)
    for i in range(4, 12):
        data["structures"].append({"label": f"S{i}", "kind": "landmark", "category": ANATOMY,
                                   "type": code("76752008", "SNOMED", "Breast"), "color": "red"})
    paths = [p.split(":")[0] for p in problems_of(data)]
    indexes = [int(p.split("[")[1].split("]")[0]) for p in paths]
    assert indexes == sorted(indexes)


def test_not_an_object():
    assert problems_of([]) == ["must be an object, found array []"]
    assert problems_of("x") == ["must be an object, found string \"x\""]


def test_reference_images_are_looked_up_beside_the_file(tmp_path: Path):
    data = mutated(_set("instructions", {"text": "Outline the liver.",
                                         "reference_images": [{"path": "img/liver.png", "caption": "example"}]}))
    data["edge_cases"] = [{"title": "Lesion at the surface", "text": "Include it.",
                           "reference_images": [{"path": "img/missing.png"}]}]
    file = tmp_path / "p.json"
    file.write_text(json.dumps(data))
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "liver.png").write_bytes(b"\x89PNG")
    with pytest.raises(ProtocolError) as caught:
        load_protocol_file(file)
    assert caught.value.problems == [f"edge_cases[0].reference_images[0].path: file 'img/missing.png' not found in "
                                     f"{tmp_path}"]
    (tmp_path / "img" / "missing.png").write_bytes(b"\x89PNG")
    protocol = load_protocol_file(file)
    assert protocol.instructions.reference_images[0].caption == "example"
    assert protocol.edge_cases[0].reference_images[0].path == "img/missing.png"
