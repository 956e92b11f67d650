"""Every code in the shipped protocols is a real SCT/DCM/BI code with its proper meaning.

``protocol_codes_reference.csv`` names, for each code the shipped protocols use, its meaning
and its source: a DICOM PS3.16 context group (CID) as transcribed in pydicom's
``pydicom/sr/_cid_dict.py`` and ``_concepts_dict.py``, PS3.16 Annex D for DCM concept names,
or SNOMED CT itself. CID 6027 (Assessment from BI-RADS) has no members in pydicom's table;
its codes and meanings were checked against the PS3.16 text of CID 6027, whose SCT members
pydicom knows from SNOMED CT ("Mammography assessment (Category n) ..."). The column
``also_in_slicer_terminology`` marks codes that Slicer's DICOM master terminology lists with
the same meaning; set ``SLICER_TERMINOLOGY_DIR`` to Slicer's
``Modules/Loadable/Terminologies/Resources`` folder to re-check those too.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from conftest import slicer_terminology_file
from DICOMAnnotatorLib.protocols import shipped_protocols
from DICOMAnnotatorLib.protocols.coding_schemes import sctid_problem
from pydicom.sr._cid_dict import cid_concepts
from pydicom.sr._concepts_dict import concepts

TABLE = Path(__file__).with_name("protocol_codes_reference.csv")


def reference() -> dict[tuple[str, str], dict[str, str]]:
    with TABLE.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    table = {(r["coding_scheme_designator"], r["code_value"]): r for r in rows}
    assert len(table) == len(rows), "one row per code"
    return table


def used_codes() -> dict[tuple[str, str], set[str]]:
    """(scheme, value) -> the meanings the shipped protocols give it, with where."""
    used: dict[tuple[str, str], set[str]] = {}
    for protocol in shipped_protocols():
        for structure in protocol.structures:
            codes = [structure.category, structure.type, structure.type_modifier, structure.anatomic_region,
                     structure.anatomic_region_modifier, *structure.values]
            for code in filter(None, codes):
                used.setdefault((code.scheme, code.value), set()).add(code.meaning)
        for view in protocol.views:
            for code in filter(None, (view.view, view.laterality)):
                used.setdefault((code.scheme, code.value), set()).add(code.meaning)
    return used


def pydicom_entries(scheme: str, value: str) -> list[tuple[str, list[int]]]:
    """pydicom's (meaning, CIDs) records for a code."""
    return [records[value] for records in concepts.get(scheme, {}).values() if value in records]


def test_every_used_code_is_in_the_table_with_the_same_meaning():
    table = reference()
    used = used_codes()
    for key, meanings in sorted(used.items()):
        assert key in table, f"{key} is used by a shipped protocol but not in {TABLE.name}"
        assert meanings == {table[key]["code_meaning"]}, f"{key}: protocols say {meanings}, the table says " \
                                                         f"{table[key]['code_meaning']!r}"
    assert set(table) == set(used), f"codes in the table that no protocol uses: {sorted(set(table) - set(used))}"


def test_every_row_names_a_source():
    for key, row in reference().items():
        assert row["source"].strip(), f"{key} has no source"
        if row["cid"]:
            assert f"CID {row['cid']}" in row["source"]


@pytest.mark.parametrize("key", sorted(reference()))
def test_codes_agree_with_pydicom_and_dicom_context_groups(key):
    scheme, value = key
    row = reference()[key]
    if scheme == "SCT":
        assert sctid_problem(value) is None
    if scheme == "BI":
        assert row["cid"] == "6027" and re.fullmatch(r"MA\.II\.A\.5\.(4[ABC]|6)", value)
        return
    entries = pydicom_entries(scheme, value)
    assert entries, f"pydicom does not know {key}"
    meaning = row["code_meaning"]
    cid = int(row["cid"]) if row["cid"] else None
    if cid is not None and cid_concepts.get(cid):
        assert any(m == meaning and cid in cids for m, cids in entries), \
            f"{key} {meaning!r} is not in CID {cid} per pydicom: {entries}"
    elif cid == 6027:  # BI-RADS assessment categories: pydicom knows the SCT concepts by their SNOMED names
        category = meaning.split(" ")[0]
        assert any(m.startswith(f"Mammography assessment (Category {category})") for m, _ in entries), entries
    else:  # a concept name outside any CID: the DICOM meaning, or SNOMED's name without its semantic tag
        names = {re.sub(r" \([a-z ]+\)$", "", m) for m, _ in entries}
        assert meaning in names, f"{key} {meaning!r} not in {names}"


def test_codes_marked_as_in_slicer_are_in_slicers_terminology():
    known: set[tuple[str, str, str]] = set()
    segment = json.loads(slicer_terminology_file("SegmentationCategoryTypeModifier-DICOM-Master").read_text())
    for category in segment["SegmentationCodes"]["Category"]:
        for item in [category, *category.get("Type", [])]:
            for code in [item, *item.get("Modifier", [])]:
                known.add((code["CodingSchemeDesignator"], code["CodeValue"], code["CodeMeaning"].casefold()))
    regions = json.loads(slicer_terminology_file("AnatomicRegionAndModifier-DICOM-Master").read_text())
    for region in regions["AnatomicCodes"]["AnatomicRegion"]:
        for code in [region, *region.get("Modifier", [])]:
            known.add((code["CodingSchemeDesignator"], code["CodeValue"], code["CodeMeaning"].casefold()))
    marked = [(s, v, r["code_meaning"]) for (s, v), r in reference().items() if r["also_in_slicer_terminology"]]
    assert marked
    for scheme, value, meaning in marked:
        assert (scheme, value, meaning.casefold()) in known, (scheme, value, meaning)
