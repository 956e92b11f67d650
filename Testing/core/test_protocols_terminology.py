"""Slicer terminology contexts: dcmqi's schemas accept them and they read back as the protocol."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import slicer_terminology_file
from DICOMAnnotatorLib.dicom.codes import Code
from DICOMAnnotatorLib.errors import InputError, OutputExistsError
from DICOMAnnotatorLib.protocols import (
    AnnotationKind,
    load_protocol,
    read_slicer_anatomic_context,
    read_slicer_terminology,
    shipped_protocol_ids,
    terminology_context_name,
    to_slicer_anatomic_context,
    to_slicer_terminology,
    write_slicer_anatomic_context,
    write_slicer_terminology,
)
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SCHEMAS = Path(__file__).with_name("protocol_dcmqi_schemas")


def dcmqi_validator(name: str) -> jsonschema.Draft4Validator:
    """A validator for one of dcmqi's schemas, resolving its references to the local copies (no network)."""
    resources = []
    for path in SCHEMAS.glob("*.json"):
        contents = json.loads(path.read_text())
        resources.append((contents["id"].rstrip("#"), Resource.from_contents(contents, default_specification=DRAFT4)))
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    return jsonschema.Draft4Validator(schema, registry=Registry().with_resources(resources))


@pytest.mark.parametrize("protocol_id", shipped_protocol_ids())
def test_contexts_follow_dcmqis_schemas(protocol_id):
    protocol = load_protocol(protocol_id)
    dcmqi_validator("segment-context-schema").validate(to_slicer_terminology(protocol))
    dcmqi_validator("anatomic-context-schema").validate(to_slicer_anatomic_context(protocol))


def test_the_schemas_catch_what_slicer_would_reject():
    context = to_slicer_terminology(load_protocol("liver-lesions-ct"))
    context["SegmentationCodes"]["Category"][0]["Type"][0]["recommendedDisplayRGBValue"] = [300, 0, 0]
    with pytest.raises(jsonschema.ValidationError):
        dcmqi_validator("segment-context-schema").validate(context)
    context = to_slicer_terminology(load_protocol("liver-lesions-ct"))
    context["SegmentationCodes"]["Category"][0]["Type"][0]["Colour"] = [3, 0, 0]
    with pytest.raises(jsonschema.ValidationError):
        dcmqi_validator("segment-context-schema").validate(context)


@pytest.mark.parametrize("protocol_id", shipped_protocol_ids())
def test_contexts_read_back_as_the_protocol(protocol_id, tmp_path):
    protocol = load_protocol(protocol_id)
    written = write_slicer_terminology(protocol, tmp_path / "t.json")
    context = read_slicer_terminology(written)
    assert context.name == terminology_context_name(protocol)
    annotated = [s for s in protocol.structures if s.kind is not AnnotationKind.CLASSIFICATION]
    for structure in annotated:
        entry = context.find(structure.category, structure.type, structure.type_modifier)
        assert entry is not None, structure.label
        same_entry = [s for s in annotated if (s.category, s.type, s.type_modifier)
                      == (structure.category, structure.type, structure.type_modifier)]
        assert entry.color == same_entry[0].display_color
        if len(same_entry) == 1:
            assert (entry.label, entry.label_value) == (structure.label, structure.label_value)
        else:  # one Slicer type for structures that differ only by region: no single label
            assert entry.label is None and entry.label_value is None
        assert entry.show_anatomy == any(s.anatomic_region for s in annotated if s.category == structure.category)
    # nothing else: each entry is a structure's, or the bare type above a structure's modifier
    for entry in context.entries:
        assert any(entry.category == s.category and entry.type == s.type
                   and entry.type_modifier in (s.type_modifier, None) for s in annotated), entry
    regions = read_slicer_anatomic_context(write_slicer_anatomic_context(protocol, tmp_path / "r.json"))
    expected = {(s.anatomic_region, s.anatomic_region_modifier) for s in annotated if s.anatomic_region}
    expected |= {(region, None) for region, _ in expected}
    assert {(e.region, e.modifier) for e in regions.entries} == expected


def test_structures_that_differ_by_region_share_one_type_and_list_their_regions():
    ich = load_protocol("intracranial-hemorrhage-ct")
    context = read_slicer_terminology(to_slicer_terminology(ich))
    hemorrhage = context.find(Code("49755003", "SCT", "x"), Code("50960005", "SCT", "x"))
    assert hemorrhage.color == (188, 65, 28) and hemorrhage.label is None
    edema = context.find(Code("49755003", "SCT", "x"), Code("79654002", "SCT", "x"))
    assert (edema.label, edema.label_value) == ("Perihematomal edema", 6)
    regions = read_slicer_anatomic_context(to_slicer_anatomic_context(ich))
    dura = [e for e in regions.entries if e.region.value == "18545000"]
    assert {e.modifier.meaning if e.modifier else None for e in dura} == {None, "Internal", "External"}


def test_type_modifiers_become_slicer_modifiers():
    lung = load_protocol("lung-nodules-ct")
    data = to_slicer_terminology(lung)
    anatomy = next(c for c in data["SegmentationCodes"]["Category"] if c["CodeValue"] == "91723000")
    (lung_type,) = anatomy["Type"]
    assert [m["3dSlicerLabel"] for m in lung_type["Modifier"]] == ["Right lung", "Left lung"]
    assert [m["3dSlicerIntegerLabel"] for m in lung_type["Modifier"]] == [2, 3]
    assert "3dSlicerLabel" not in lung_type  # no structure is the bare "Lung"
    assert anatomy["showAnatomy"] is False


def test_writing_is_atomic_and_refuses_existing_files(tmp_path):
    protocol = load_protocol("liver-lesions-ct")
    out = tmp_path / "context.json"
    out.write_text("keep me")
    with pytest.raises(OutputExistsError, match="already exists"):
        write_slicer_terminology(protocol, out)
    assert out.read_text() == "keep me"
    write_slicer_terminology(protocol, out, force=True)
    assert json.loads(out.read_text())["@schema"].endswith("segment-context-schema.json#")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["context.json"]


def test_reader_accepts_what_slicer_accepts():
    data = {
        "SegmentationCategoryTypeContextName": "Mine",
        "@schema": "https://raw.githubusercontent.com/qiicr/dcmqi/master/doc/schemas/segment-context-schema.json#",
        "SegmentationCodes": {"Category": [{
            "CodeMeaning": "Tissue", "CodingSchemeDesignator": "SCT", "CodeValue": "85756007", "showAnatomy": "false",
            "Type": [{"CodeMeaning": "Tissue", "CodingSchemeDesignator": "SCT", "CodeValue": "85756007",
                      "recommendedDisplayRGBValue": ["128", "174", "128"], "3dSlicerLabel": "tissue",
                      "3dSlicerIntegerLabel": 1, "cid": "7165", "UMLSConceptUID": "C0040300"}],
        }]},
    }
    context = read_slicer_terminology(data)
    (entry,) = context.entries
    assert entry.color == (128, 174, 128) and entry.label == "tissue" and entry.label_value == 1
    assert entry.show_anatomy is False and context.name == "Mine"


def test_reader_names_every_problem(tmp_path):
    bad = {"@schema": "other", "SegmentationCodes": {"Category": [
        {"CodeMeaning": "Tissue", "CodingSchemeDesignator": "SCT",
         "Type": [{"CodeMeaning": "Bone", "CodeValue": "272673000"}]},
        {"CodeMeaning": "X", "CodingSchemeDesignator": "SCT", "CodeValue": "1"},
    ]}}
    with pytest.raises(InputError) as caught:
        read_slicer_terminology(bad)
    message = str(caught.value)
    for fragment in ("@schema: must be one of", "SegmentationCategoryTypeContextName: missing",
                     "SegmentationCodes.Category[0]: missing CodeValue",
                     "SegmentationCodes.Category[0].Type[0]: missing CodingSchemeDesignator",
                     "SegmentationCodes.Category[1].Type: missing"):
        assert fragment in message, message
    with pytest.raises(InputError, match="Terminology file .* not found"):
        read_slicer_terminology(tmp_path / "absent.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(InputError, match="its top level is not a JSON object"):
        read_slicer_terminology(tmp_path / "list.json")
    with pytest.raises(InputError, match="AnatomicCodes.AnatomicRegion: missing"):
        read_slicer_anatomic_context({"@schema": "https://raw.githubusercontent.com/qiicr/dcmqi/master/doc/"
                                                 "anatomic-context-schema.json#", "AnatomicContextName": "x"})


def test_reader_reads_slicers_own_contexts():
    context = read_slicer_terminology(slicer_terminology_file("SegmentationCategoryTypeModifier-DICOM-Master"))
    assert context.name == "Segmentation category and type - DICOM master list"
    liver = context.find(Code("123037004", "SCT", "x"), Code("10200004", "SCT", "x"))
    assert liver.color == (221, 130, 101)
    regions = read_slicer_anatomic_context(slicer_terminology_file("AnatomicRegionAndModifier-DICOM-Master"))
    assert any(e.region.value == "10200004" for e in regions.entries)
