"""dicom.part10.save_part10 writes what pydicom writes (large values with their zero blocks left as holes) and gives
the digest of what it wrote."""

from __future__ import annotations

import hashlib

import DICOMAnnotatorLib.dicom.sparse as sparse
import numpy as np
import pytest
from DICOMAnnotatorLib.dicom import new_file_meta, raw_element, save_part10, sparse_bytes
from DICOMAnnotatorLib.dicom.sparse import _nonzero_runs as nonzero_runs
from pydicom.dataset import Dataset, FileDataset
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, generate_uid

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def _dataset(pixel_data: bytes) -> FileDataset:
    ds = FileDataset("sparse.dcm", {}, file_meta=new_file_meta(SECONDARY_CAPTURE, generate_uid(),
                                                              ExplicitVRLittleEndian), preamble=b"\0" * 128,
                     is_implicit_VR=False, is_little_endian=True)  # as read from such a file: save_part10 copies
    ds.SOPClassUID, ds.SOPInstanceUID = SECONDARY_CAPTURE, ds.file_meta.MediaStorageSOPInstanceUID
    ds.PatientName = "Sparse^Test"
    ds[0x7FE00010] = raw_element(0x7FE00010, "OB", pixel_data)
    return ds


@pytest.mark.parametrize("layout", ["zeros-at-both-ends", "all-zero", "no-zero-block", "zeros-in-the-middle"])
def test_a_large_value_with_zero_blocks_is_written_byte_for_byte(tmp_path, monkeypatch, layout):
    size = (3 << 20) + 1234  # odd blocks: the value starts and ends off the file's block boundaries
    values = np.zeros(size + size % 2, dtype=np.uint8)
    if layout != "all-zero":
        rng = np.random.default_rng(7)
        values[1 << 20:(1 << 20) + 70_000] = rng.integers(1, 255, 70_000)
        if layout == "no-zero-block":
            values[::4000] = 1
        if layout == "zeros-in-the-middle":
            values[:5000] = values[-5000:] = 3
    ds = _dataset(values.tobytes())
    scanned = []
    monkeypatch.setattr(sparse, "_nonzero_runs", lambda *args: scanned.append(1) or nonzero_runs(*args))
    digest = hashlib.sha256()
    save_part10(ds, tmp_path / "ours.dcm", digest=digest)
    ds.save_as(tmp_path / "pydicom.dcm", enforce_file_format=True)
    assert (tmp_path / "ours.dcm").read_bytes() == (tmp_path / "pydicom.dcm").read_bytes()
    assert digest.hexdigest() == hashlib.sha256((tmp_path / "ours.dcm").read_bytes()).hexdigest()
    assert scanned, "the value went through the sparse writer"


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian])
def test_the_digest_is_of_the_bytes_written_whoever_writes_them(tmp_path, syntax):
    """Small values through pydicom's element writer; a deflated file through pydicom's whole-file writer."""
    ds = _dataset(bytes(range(256)) * 4)
    ds.file_meta.TransferSyntaxUID = syntax
    ds.ContentSequence = [Dataset(), Dataset()]
    ds.ContentSequence[0].TextValue = "first"
    digest = hashlib.sha256()
    save_part10(ds, tmp_path / "written.dcm", digest=digest)
    assert digest.hexdigest() == hashlib.sha256((tmp_path / "written.dcm").read_bytes()).hexdigest()


@pytest.mark.parametrize("puts", [
    [(0, 3), (5000, 9000), (9000, 9100), (4096 * 300, 4096 * 300 + 1)],  # at the start, adjacent, on a boundary
    [((3 << 20) - 10, 3 << 20)],  # at the end only
    [],  # nothing written: all zeros
], ids=["ranges", "end-only", "nothing"])
def test_a_value_that_knows_its_written_ranges_is_written_and_hashed_byte_for_byte(tmp_path, puts):
    """A writer's sparse value: only the blocks its ranges reach are written (no scan of the rest), the digest gets
    zeros for the rest; the file is what pydicom writes of the same value."""
    value = sparse_bytes(3 << 20)
    rng = np.random.default_rng(3)
    for start, stop in puts:
        value.put(start, rng.integers(1, 255, stop - start).astype(np.uint8))
    assert value.written_ranges == [r for r in puts if r[1] > r[0]]
    ds = _dataset(value)
    digest = hashlib.sha256()
    save_part10(ds, tmp_path / "ours.dcm", digest=digest)
    ds.save_as(tmp_path / "pydicom.dcm", enforce_file_format=True)
    expected = (tmp_path / "pydicom.dcm").read_bytes()
    assert (tmp_path / "ours.dcm").read_bytes() == expected
    assert digest.hexdigest() == hashlib.sha256(expected).hexdigest()
    assert value[1:].written_ranges is None, "a view does not claim to know where its non-zero bytes are"
