"""The agreement report as a page: rendered by headless Chromium, its tables and plots are there."""

from __future__ import annotations

from html.parser import HTMLParser

from conftest import dump_dom_in_chromium
from DICOMAnnotatorLib.agreement.consensus import build_consensus
from DICOMAnnotatorLib.agreement.report import render_case_report, render_dataset_report
from DICOMAnnotatorLib.agreement.segmentations import segmentation_agreement
from synthetic_annotators import LESION, LIVER, annotator, ellipsoid


class _Cells(HTMLParser):
    """Collects the text of every table cell and counts tables and SVG plots in rendered HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.tables = 0
        self.svgs = 0
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        self.tables += tag == "table"
        self.svgs += tag == "svg"
        if tag in ("td", "th"):
            self._in_cell = True
            self.cells.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self.cells[-1] += data.strip()


def _case():
    lesion = ellipsoid((16, 20, 20), (3, 3, 3))
    inputs = [annotator(0.05, 1, (LIVER, LESION), extra=lesion), annotator(0.2, 2),
              annotator(0.1, 3, (LIVER, LESION), extra=lesion)]
    names = ["reader<1>.dcm", "reader2.dcm", "reader3.dcm"]
    consensus = build_consensus(inputs, names, method="staple", missing_as_empty=True)
    return segmentation_agreement(inputs, names, reference=consensus.segmentation), consensus


def _render_in_chromium(page: str, tmp_path) -> str:
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    return dump_dom_in_chromium(path, tmp_path / "profile")


def test_case_report_shows_tables_and_plots_in_chromium(tmp_path):
    report, consensus = _case()
    dom = _render_in_chromium(render_case_report(report, consensus=consensus, title="Case 7"), tmp_path)
    cells = _Cells()
    cells.feed(dom)
    assert cells.tables >= 5 and cells.svgs == 2
    assert "reader<1>.dcm" in cells.cells  # escaped in the page, shown as text
    for header in ("mean Dice", "HD95 (mm)", "ASSD (mm)", "STAPLE sensitivity", "mean Dice vs consensus"):
        assert header in cells.cells
    liver_pair = report.segments[0].pairs[0].metrics
    assert f"{liver_pair.dice:.3f}" in cells.cells and f"{liver_pair.hd95_mm:.3f}" in cells.cells
    assert "—" in cells.cells  # the missing lesion of reader 2: distances undefined, not NaN
    assert "nan" not in dom.lower()


def test_dataset_report_lists_cases(tmp_path):
    report, _ = _case()
    dom = _render_in_chromium(render_dataset_report({"case-1": report, "case-2": report}), tmp_path)
    cells = _Cells()
    cells.feed(dom)
    assert {"case-1", "case-2", "Liver", "Lesion"} <= set(cells.cells)
    assert cells.svgs == 2
