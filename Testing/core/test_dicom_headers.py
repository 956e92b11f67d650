"""headers.read_header returns what pydicom.dcmread(stop_before_pixels=True) returns, for any file."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from conftest import TEST_DATA, third_party_file
from DICOMAnnotatorLib.dicom import headers
from DICOMAnnotatorLib.dicom.headers import read_header
from DICOMAnnotatorLib.imaging import phantoms
from pydicom.errors import InvalidDicomError
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian


def _differences(ours: pydicom.Dataset, theirs: pydicom.Dataset, where: str = "") -> list[str]:
    found = [f"{where}tags {sorted(set(ours.keys()) ^ set(theirs.keys()))}"] if ours.keys() != theirs.keys() else []
    for tag in set(ours.keys()) & set(theirs.keys()):
        a, b = ours[tag], theirs[tag]
        if a.VR != b.VR:
            found.append(f"{where}{tag} VR {a.VR} != {b.VR}")
        elif a.VR == "SQ":
            if len(a.value) != len(b.value):
                found.append(f"{where}{tag} has {len(a.value)} items, not {len(b.value)}")
            for n, (x, y) in enumerate(zip(a.value, b.value, strict=False)):
                found += _differences(x, y, f"{where}{tag}[{n}].")
        elif a.value != b.value:
            found.append(f"{where}{tag} {a.value!r:.80} != {b.value!r:.80}")
    return found


def _assert_same_as_pydicom(path: Path) -> None:
    ours, theirs = read_header(path), pydicom.dcmread(path, stop_before_pixels=True)
    assert _differences(ours, theirs) == [] and _differences(ours.file_meta, theirs.file_meta) == []
    assert (ours.original_encoding, ours.original_character_set, ours.preamble, ours.filename) == \
        (theirs.original_encoding, theirs.original_character_set, theirs.preamble, theirs.filename)


def _dicom_files_in_shared_data() -> list[Path]:
    files = []
    for path in sorted(p for p in third_party_file(".").rglob("*") if p.is_file()):
        try:
            pydicom.dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError, EOFError):
            continue
        files.append(path)
    return files


def test_every_dicom_file_of_the_shared_data_reads_as_pydicom_reads_it():
    files = _dicom_files_in_shared_data()
    assert len(files) >= 50, f"expected the DICOM files of {TEST_DATA}"
    plain = 0
    for path in files:
        _assert_same_as_pydicom(path)
        plain += headers._read_plain_header(path) is not None
    assert plain >= 40, "most files are plain little-endian Part 10 files, read without pydicom's reader"


@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, ExplicitVRBigEndian, None])
def test_long_headers_other_encodings_and_damaged_files(tmp_path, syntax):
    """A header far beyond the bytes read first, implicit VR and big endian (pydicom's), a file cut short."""
    geometry = phantoms.phantom_geometry()
    hu, _ = phantoms.phantom_volume(geometry)
    ds = phantoms.ct_datasets(geometry, hu)[0]
    ds.add_new(0x00291010, "OB", bytes(range(256)) * 400)  # a private blob of 100 KB before the pixel data
    ds.ImageComments = "Très long" * 10
    ds.SpecificCharacterSet = "ISO_IR 100"
    path = tmp_path / "slice.dcm"
    if syntax is not None:
        ds.file_meta.TransferSyntaxUID = syntax
    ds.save_as(path, enforce_file_format=True)
    _assert_same_as_pydicom(path)
    assert (headers._read_plain_header(path) is not None) == (syntax != ExplicitVRBigEndian)
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(path.read_bytes()[:headers.HEAD_BYTES + 5000])  # ends inside the private blob
    assert headers._read_plain_header(cut) is None  # left to pydicom, which decides what a cut file is


def test_a_file_that_is_not_dicom_raises_pydicoms_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not DICOM " * 100)
    with pytest.raises(InvalidDicomError):
        read_header(path)


def test_header_values_are_pydicoms_and_malformed_ones_go_to_pydicom(tmp_path):
    geometry = phantoms.phantom_geometry(orientation="oblique")
    hu, _ = phantoms.phantom_volume(geometry)
    ds = phantoms.ct_datasets(geometry, hu)[0]
    path = tmp_path / "slice.dcm"
    with pytest.warns(UserWarning, match="Invalid value for VR IS") as warned:
        ds.add_new(0x00200012, "IS", "1.0")  # AcquisitionNumber, not an integer string: pydicom's reading decides
        ds.save_as(path, enforce_file_format=True)
        ours, theirs = read_header(path), pydicom.dcmread(path, stop_before_pixels=True)
        for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows", "SOPInstanceUID",
                        "Modality", "RescaleSlope", "AcquisitionNumber", "NumberOfFrames"):
            value, expected = headers.header_value(ours, keyword, "absent"), theirs.get(keyword, "absent")
            assert value == expected, keyword
    assert len(warned) >= 3  # set, and read by pydicom for both datasets: header_value handed it to pydicom
