"""Burned-in text on every modality and pixel range, default settings: the planted corpus's counts.

The corpus (``burned_in_corpus``) plants three lines of identifying text into each of 14 real
images of the test data (CT, MR, DX, NM, and CR, MG and 8-bit-values-in-16-bit images made from
real pixels). De-identified with default settings, a planted line is missed when less than 98%
of its glyph pixels fall in the rectangles the run blanked; anatomy blanked is every blanked
pixel more than a few pixels outside the planted lines. The counts and the throughput are printed.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from burned_in_corpus import SOURCES, write_corpus
from conftest import require_tool, third_party_file
from deid_support import run_deidentify

#: Pixels around a planted line that blanking may take (the padding of a box read by OCR).
MARGIN = 6


@pytest.mark.shared_data
def test_planted_text_is_blanked_on_every_modality_and_no_anatomy_is(tmp_path):
    require_tool("tesseract")
    third_party_file("highdicom/dx_image.dcm")
    planted = write_corpus(tmp_path / "in")
    status, report = run_deidentify(tmp_path / "in", tmp_path / "out", "--jobs", "2")
    assert status == 0, report["problems"]
    regions = {entry["source"]: entry["pixels"]["regions"] for entry in report["flagged"]}
    shapes = {p.source: p.glyphs.shape for p in planted}
    blanked = {source: np.zeros(shape, bool) for source, shape in shapes.items()}
    for source, boxes in regions.items():
        for x0, y0, x1, y1 in boxes:
            blanked[source][max(0, y0):y1, max(0, x0):x1] = True
    covered = {id(p): np.count_nonzero(blanked[p.source] & p.glyphs) / np.count_nonzero(p.glyphs) for p in planted}
    missed = [f"{p.source}: {p.text!r} at {p.box}, {100 * covered[id(p)]:.0f}% blanked" for p in planted
              if covered[id(p)] < 0.98]
    untouched = [line for line in missed if line.endswith(" 0% blanked")]
    near_text = {source: np.zeros(shape, bool) for source, shape in shapes.items()}
    for p in planted:
        x0, y0, x1, y1 = p.box
        near_text[p.source][max(0, y0 - MARGIN):y1 + MARGIN, max(0, x0 - MARGIN):x1 + MARGIN] = True
    anatomy = sum(int(np.count_nonzero(blanked[s] & ~near_text[s])) for s in shapes)
    total = sum(int(np.prod(shape)) for shape in shapes.values())
    rate = len(SOURCES) / report["summary"]["seconds"]
    print(f"\nburned-in corpus: {len(SOURCES)} images, {len(planted)} lines planted, {len(missed)} missed "
          f"({len(untouched)} of them not blanked at all), {anatomy} anatomy pixels blanked "
          f"({100 * anatomy / total:.3f}% of {total}), {rate:.2f} images/s")
    for line in missed:
        print("  missed", line)
    # Measured: 4 missed, all on test slices that hold nothing but noise as strong as the text, and 0.23% of
    # the pixels blanked beside the text; the margins allow for another Tesseract build, not for a regression.
    assert len(missed) <= 6, missed
    assert anatomy <= 0.004 * total
    # The report tells the truth: what it lists is blanked, to one value per image, in the written files.
    for entry in report["flagged"]:
        ds = pydicom.dcmread(entry["output"])
        codes = [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]
        assert ds.BurnedInAnnotation == "NO" and "113101" in codes
        values = {int(v) for x0, y0, x1, y1 in entry["pixels"]["regions"]
                  for v in np.unique(ds.pixel_array[max(0, y0):y1, max(0, x0):x1])}
        assert len(values) <= 1, (entry["source"], sorted(values)[:5])


@pytest.mark.shared_data
def test_the_screen_finds_nothing_on_real_ct_and_mr_without_text():
    """The screen runs on every image: on real slices without text it must not send them to OCR."""
    from DICOMAnnotatorLib.deid.text_screen import screen_frame

    third_party_file("highdicom/dx_image.dcm")
    clean = [SOURCES[0][0], SOURCES[1][0], SOURCES[4][0], SOURCES[6][0]]
    found = {path.name: screen_frame(pydicom.dcmread(path).pixel_array) for path in clean}
    assert all(lines == [] for lines in found.values()), found
