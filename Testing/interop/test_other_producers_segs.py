"""SEGs other producers write that ours never are: segments without codes (syngo.via before the codes
were required), TILED_FULL whole-slide SEGs (frames without per-frame segment numbers, as the standard
allows), 1-bit frames in RLE Lossless or Deflated Image Frame Compression (pydicom decodes neither), and
pixel data no installed decoder reads; and the refusals that go with them.

Each case starts from a real file of the test data (dcmqi's liver SEG, highdicom's SEG and slide
image) changed only where the case needs it, or from highdicom writing the SEG itself.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from conftest import in_process_cli, third_party_file
from DICOMAnnotatorLib.imaging.image_files import read_image, write_image
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.sr.codedict import codes

pytestmark = pytest.mark.shared_data

LIVER = "dcmqi/segmentations/liver.dcm"
LIVER_CT = "dcmqi/segmentations/ct-3slice"
DEFLATED_IMAGE_FRAMES = "1.2.840.10008.1.2.8.1"  # Deflated Image Frame Compression: pydicom has no decoder
RLE_LOSSLESS = "1.2.840.10008.1.2.5"
MPEG2 = "1.2.840.10008.1.2.4.100"  # MPEG2 Main Profile / Main Level: no decoder in pydicom, none to install
GENERIC_TISSUE = ["85756007", "SCT", "Tissue"]


@pytest.fixture
def cli(capsys):
    return in_process_cli(capsys)


def one_error_line(result: tuple[int, str, str]) -> str:
    status, out, err = result
    lines = err.strip().splitlines()
    assert status == 1 and out == "" and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# --------------------------------------------------------------------- 4. segments without codes
def uncoded_liver(tmp_path) -> pydicom.Dataset:
    ds = pydicom.dcmread(third_party_file(LIVER))
    for item in ds.SegmentSequence:
        del item.SegmentedPropertyCategoryCodeSequence
        del item.SegmentedPropertyTypeCodeSequence
    ds.save_as(tmp_path / "uncoded.dcm")
    return ds


def test_segments_without_codes_are_imported_under_their_labels(cli, tmp_path):
    uncoded_liver(tmp_path)
    ct = third_party_file(LIVER_CT)
    status, out, err = cli("seg", "info", tmp_path / "uncoded.dcm", "--json")
    assert status == 0, err
    assert [(s["label"], s["type"], s["category"]) for s in json.loads(out)["segments"]] == [("Liver", None, None)]

    status, out, err = cli("seg", "import", tmp_path / "uncoded.dcm", "--series", ct, "-o", tmp_path / "uncoded.nrrd",
                           "--json")
    assert status == 0, err
    assert "no coded category or type" in err and "Liver" in err
    assert [(s["label"], s["type"]) for s in json.loads(out)["segments"]] == [("Liver", GENERIC_TISSUE)]
    cli("seg", "import", third_party_file(LIVER), "--series", ct, "-o", tmp_path / "coded.nrrd")
    uncoded, _ = read_image(tmp_path / "uncoded.nrrd")
    coded, _ = read_image(tmp_path / "coded.nrrd")
    assert uncoded.any() and np.array_equal(uncoded, coded), "the voxels do not depend on the codes"

    status, _, err = cli("sr", "export", tmp_path / "uncoded.dcm", "--series", ct, "-o", tmp_path / "sr.dcm")
    assert status == 0, err


def test_a_segment_with_an_unknown_algorithm_type_is_refused_by_name(cli, tmp_path):
    ds = pydicom.dcmread(third_party_file(LIVER))
    ds.SegmentSequence[0].SegmentAlgorithmType = "GUESSED"
    ds.save_as(tmp_path / "guessed.dcm")
    line = one_error_line(cli("seg", "import", tmp_path / "guessed.dcm", "--series", third_party_file(LIVER_CT),
                              "-o", tmp_path / "out.nrrd"))
    assert str(tmp_path / "guessed.dcm") in line and "segment 1 ('Liver')" in line and "GUESSED" in line


# --------------------------------------------------------------------- 5. whole-slide SEGs
def slide_segs(tmp_path) -> dict[str, np.ndarray]:
    """highdicom's SEGs of two segments on the test data's slide image, TILED_FULL and TILED_SPARSE."""
    slide = pydicom.dcmread(third_party_file("highdicom/sm_image_control.dcm"))
    mask = np.zeros((1, slide.TotalPixelMatrixRows, slide.TotalPixelMatrixColumns, 2), dtype=bool)
    mask[0, 5:20, 5:25, 0] = True
    mask[0, 30:40, 10:12, 1] = True
    descriptions = [hd.seg.SegmentDescription(
        segment_number=n, segment_label=f"Region {n}", segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=codes.SCT.ConnectiveTissue, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
        for n in (1, 2)]
    for organization in ("TILED_FULL", "TILED_SPARSE"):
        seg = hd.seg.Segmentation(
            [slide], mask, hd.seg.SegmentationTypeValues.BINARY, descriptions, hd.UID(), 1, hd.UID(), 1,
            "Test", "Slide segmentation", "1", "test", tile_pixel_array=True,
            dimension_organization_type=organization, omit_empty_frames=False)
        seg.save_as(tmp_path / f"{organization}.dcm")
    return {"mask": mask}


def test_a_tiled_full_seg_is_read_with_its_implicit_segments(cli, tmp_path):
    mask = slide_segs(tmp_path)["mask"]
    full = pydicom.dcmread(tmp_path / "TILED_FULL.dcm", stop_before_pixels=True)
    assert "SegmentIdentificationSequence" not in full.SharedFunctionalGroupsSequence[0]
    assert "PerFrameFunctionalGroupsSequence" not in full  # so no frame names its segment
    expected = [int(mask[..., n].sum()) for n in range(2)]
    for organization in ("TILED_FULL", "TILED_SPARSE"):
        status, out, err = cli("seg", "info", tmp_path / f"{organization}.dcm", "--json")
        assert status == 0, err
        assert [s["voxels"] for s in json.loads(out)["segments"]] == expected, organization


def test_whole_slide_segs_are_refused_plainly_where_a_volume_is_needed(cli, tmp_path):
    slide_segs(tmp_path)
    line = one_error_line(cli("seg", "import", tmp_path / "TILED_FULL.dcm", "--series", third_party_file(LIVER_CT),
                              "-o", tmp_path / "out.nrrd"))
    assert "whole-slide microscopy SEG" in line and "not conformant" not in line
    line = one_error_line(cli("series", "info", third_party_file("highdicom/sm_image_control.dcm")))
    assert "whole-slide microscopy image" in line


# --------------------------------------------------------------------- 6. decoders and refusals
def reencoded(source, path, transfer_syntax: str, frames: list[bytes] | None = None) -> None:
    """``source`` with ``frames`` (by default 64 zero bytes each, which decode to nothing) encapsulated under
    ``transfer_syntax``.

    Written element by element in explicit VR little endian: pydicom will not save a transfer syntax
    it does not know (Deflated Image Frame Compression is newer than it).
    """
    ds = pydicom.dcmread(source)
    ds.PixelData = encapsulate(frames if frames is not None else [b"\0" * 64] * int(ds.get("NumberOfFrames", 1) or 1))
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    buffer.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(buffer, ds.file_meta)
    write_dataset(buffer, ds)
    Path(path).write_bytes(buffer.getvalue())


def _rle(packed: bytes) -> bytes:
    """``packed`` bytes as one RLE Lossless frame, by pydicom's encoder (an 8-bit row of them)."""
    from pydicom.pixels.encoders import RLELosslessEncoder

    return RLELosslessEncoder.encode(np.frombuffer(packed, dtype=np.uint8).reshape(1, -1), rows=1,
                                     columns=len(packed), samples_per_pixel=1, bits_allocated=8, bits_stored=8,
                                     pixel_representation=0, photometric_interpretation="MONOCHROME2",
                                     number_of_frames=1)


def _deflate(packed: bytes) -> bytes:
    """``packed`` bytes compressed by zlib's raw Deflate (RFC 1951, no zlib header: PS3.5 8.2.16)."""
    import zlib

    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(packed) + compressor.flush()


@pytest.mark.parametrize(("transfer_syntax", "compress"), [(RLE_LOSSLESS, _rle), (DEFLATED_IMAGE_FRAMES, _deflate)])
def test_one_bit_frames_in_rle_or_deflate_read_voxel_for_voxel(transfer_syntax, compress, cli, write_phantom,
                                                              tmp_path):
    """A BINARY SEG of ours on a 37 x 29 grid (a frame ends inside a byte), its frames bit-packed by numpy (first
    pixel in the least significant bit, each frame from a byte: PS3.5 8.1.1) and compressed without our code, as
    highdicom and other producers write them; pydicom 3.0 decodes neither, and highdicom decodes through it."""
    folder, geometry, _, labels = write_phantom(size=(37, 29, 12))
    write_image(labels, geometry, tmp_path / "labels.nii.gz")
    status, _, err = cli("seg", "export", folder, tmp_path / "labels.nii.gz", "-o", tmp_path / "native.dcm")
    assert status == 0, err
    native = pydicom.dcmread(tmp_path / "native.dcm")
    assert native.Rows * native.Columns % 8 != 0
    frames = native.pixel_array.reshape(int(native.NumberOfFrames), -1)
    reencoded(tmp_path / "native.dcm", tmp_path / "compressed.dcm", transfer_syntax,
              [compress(np.packbits(frame, bitorder="little").tobytes()) for frame in frames])
    for name in ("native", "compressed"):
        status, _, err = cli("seg", "import", tmp_path / f"{name}.dcm", "--series", folder, "-o",
                             tmp_path / f"{name}.nii.gz")
        assert status == 0, err
    assert np.array_equal(read_image(tmp_path / "compressed.nii.gz")[0], read_image(tmp_path / "native.nii.gz")[0])
    assert np.array_equal(read_image(tmp_path / "native.nii.gz")[0], labels)


@pytest.mark.parametrize("transfer_syntax", [RLE_LOSSLESS, DEFLATED_IMAGE_FRAMES])
def test_damaged_one_bit_frames_are_one_line_naming_the_frame(transfer_syntax, cli, tmp_path):
    reencoded(third_party_file("highdicom/seg_image_ct_binary.dcm"), tmp_path / "seg.dcm", transfer_syntax)
    line = one_error_line(cli("seg", "info", tmp_path / "seg.dcm"))
    assert f"Frame 1 of {tmp_path / 'seg.dcm'}" in line and "the file is damaged" in line


def test_a_seg_no_decoder_reads_is_one_line_without_install_advice(cli, tmp_path):
    reencoded(third_party_file("highdicom/seg_image_ct_binary.dcm"), tmp_path / "seg.dcm", MPEG2)
    line = one_error_line(cli("seg", "info", tmp_path / "seg.dcm"))
    assert str(tmp_path / "seg.dcm") in line and "pydicom has no decoder for" in line and f"({MPEG2})" in line
    assert "uncompressed" in line and not re.search(r"\binstall\b", line), "no decoder to install"


def test_a_series_no_decoder_reads_is_one_line(cli, write_phantom, tmp_path):
    folder, geometry, _, labels = write_phantom()
    write_image((labels == 1).astype(np.uint8), geometry, tmp_path / "labels.nii.gz")
    status, _, err = cli("seg", "export", folder, tmp_path / "labels.nii.gz", "-o", tmp_path / "seg.dcm")
    assert status == 0, err
    for path in sorted(folder.glob("*.dcm")):
        reencoded(path, path, DEFLATED_IMAGE_FRAMES)
    line = one_error_line(cli("export", "nifti", tmp_path / "seg.dcm", "--series", folder, "-o", tmp_path / "nifti"))
    assert "Cannot decode the pixel data of" in line and "pydicom has no decoder" in line
    assert not re.search(r"\binstall\b", line), "no decoder to install"


def test_another_frame_of_reference_is_explained_by_whether_the_series_is_the_segs(cli, write_phantom, tmp_path):
    folder, geometry, _, labels = write_phantom()
    write_image((labels == 1).astype(np.uint8), geometry, tmp_path / "labels.nii.gz")
    cli("seg", "export", folder, tmp_path / "labels.nii.gz", "-o", tmp_path / "seg.dcm")
    moved = pydicom.dcmread(tmp_path / "seg.dcm")
    moved.FrameOfReferenceUID = pydicom.uid.generate_uid()
    moved.save_as(tmp_path / "moved.dcm")
    line = one_error_line(cli("seg", "import", tmp_path / "moved.dcm", "--series", folder, "-o", tmp_path / "a.nrrd"))
    assert "frame of reference" in line and "names this very series" in line
    assert "give the series the SEG was made on" not in line, "the user did give it"

    del moved.ReferencedSeriesSequence  # a SEG that does not say its series: the series may be the wrong one
    moved.save_as(tmp_path / "unreferenced.dcm")
    line = one_error_line(cli("seg", "import", tmp_path / "unreferenced.dcm", "--series", folder, "-o",
                              tmp_path / "b.nrrd"))
    assert "give the series the SEG was made on" in line


def test_the_seg_of_another_series_is_refused_naming_both(cli, write_phantom, tmp_path):
    folder, geometry, _, labels = write_phantom()
    write_image((labels == 1).astype(np.uint8), geometry, tmp_path / "labels.nii.gz")
    cli("seg", "export", folder, tmp_path / "labels.nii.gz", "-o", tmp_path / "seg.dcm")
    other = tmp_path / "other"
    shutil.copytree(folder, other)
    for path in other.glob("*.dcm"):
        ds = pydicom.dcmread(path)
        ds.SeriesInstanceUID = "1.2.3.4"
        ds.save_as(path)
    line = one_error_line(cli("seg", "import", tmp_path / "seg.dcm", "--series", other, "-o", tmp_path / "c.nrrd"))
    assert "1.2.3.4" in line and "give the series the SEG was made on" in line
