"""Agreement reports as one self-contained HTML page (inline CSS and SVG, no scripts, no network).

A reviewer should see at a glance which structures annotators disagree on and which
annotator is the outlier: per-segment tables, strip plots of Dice and HD95 over annotator
pairs (or over cases, for a dataset), and per-annotator performance.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from .consensus import ConsensusResult
from .overlap import OverlapMetrics
from .segmentations import AgreementReport, SegmentAgreement

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1d2530; max-width: 1100px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccd; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccd; padding: 0.3em 0.6em; text-align: right; }
th { background: #eef1f6; } td.name, th.name { text-align: left; }
td.low { background: #fde2e1; } td.high { background: #e3f6e5; }
.note { color: #5a6575; font-size: 0.85em; } svg { background: #fafbfd; border: 1px solid #dde; }
"""

#: Dice below this is flagged in the tables as disagreement worth a look.
LOW_DICE = 0.7


def render_case_report(report: AgreementReport, *, title: str = "Inter-annotator agreement",
                       consensus: ConsensusResult | None = None) -> str:
    """The HTML page of one case: inputs, per-segment tables and plots, annotator performance."""
    parts = [f"<h1>{_e(title)}</h1>", _inputs_table(report.inputs)]
    parts.append("<h2>Summary per segment</h2>")
    parts.append(_summary_table(report))
    parts.append("<h2>Dice per segment (one dot per annotator pair)</h2>")
    parts.append(_strip_plot({s.matched.description.label: [p.metrics.dice for p in s.pairs]
                              for s in report.segments}, unit="", upper=1.0))
    parts.append("<h2>HD95 per segment (mm)</h2>")
    parts.append(_strip_plot({s.matched.description.label: [p.metrics.hd95_mm for p in s.pairs]
                              for s in report.segments}, unit=" mm"))
    parts.append("<h2>Annotators</h2>")
    parts.append(_annotator_table(report, consensus))
    for segment in report.segments:
        parts.append(f"<h2>{_e(segment.matched.description.label)} <span class='note'>"
                     f"{_e(str(segment.matched.description.type))}</span></h2>")
        parts.append(_pairs_table(segment))
    parts.append("<p class='note'>Dice and Jaccard on voxels; Hausdorff, HD95 (larger directed 95th percentile) "
                 "and ASSD between segment surfaces in mm. Both empty: Dice 1; one empty: distances undefined (—). "
                 f"Dice below {LOW_DICE} is shaded.</p>")
    return _page(title, parts)


def render_dataset_report(reports: Mapping[str, AgreementReport], *,
                          title: str = "Inter-annotator agreement: dataset") -> str:
    """The HTML page of a dataset: per segment, the distribution of mean pairwise Dice and HD95 over cases."""
    dice: dict[str, list[float | None]] = {}
    hd95: dict[str, list[float | None]] = {}
    for report in reports.values():
        for segment in report.segments:
            label = segment.matched.description.label
            dice.setdefault(label, []).append(segment.mean("dice"))
            hd95.setdefault(label, []).append(segment.mean("hd95_mm"))
    rows = []
    for case, report in reports.items():
        cells = "".join(_metric_cell(s.mean("dice")) for s in report.segments)
        rows.append(f"<tr><td class='name'>{_e(case)}</td>{cells}</tr>")
    labels = list(dice)
    header = "".join(f"<th>{_e(label)}</th>" for label in labels)
    parts = [
        f"<h1>{_e(title)}</h1>",
        f"<p>{len(reports)} case(s). Each dot is one case's mean over annotator pairs.</p>",
        "<h2>Mean pairwise Dice per segment</h2>", _strip_plot(dice, unit="", upper=1.0),
        "<h2>Mean pairwise HD95 per segment (mm)</h2>", _strip_plot(hd95, unit=" mm"),
        "<h2>Cases</h2>",
        f"<table><tr><th class='name'>case</th>{header}</tr>{''.join(rows)}</table>",
    ]
    return _page(title, parts)


# --------------------------------------------------------------------- pieces
def _page(title: str, parts: Sequence[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def _inputs_table(inputs: Sequence[str]) -> str:
    rows = "".join(f"<tr><td>{n}</td><td class='name'>{_e(name)}</td></tr>" for n, name in enumerate(inputs))
    return f"<table><tr><th>#</th><th class='name'>input</th></tr>{rows}</table>"


def _summary_table(report: AgreementReport) -> str:
    rows = []
    for segment in report.segments:
        pairs = segment.pairs
        worst = min(pairs, key=lambda p: p.metrics.dice) if pairs else None
        worst_text = f"{worst.a} vs {worst.b}" if worst else "—"
        rows.append(
            f"<tr><td class='name'>{_e(segment.matched.description.label)}</td>"
            f"{_metric_cell(segment.mean('dice'))}{_metric_cell(min((p.metrics.dice for p in pairs), default=None))}"
            f"<td>{_e(worst_text)}</td>{_plain_cell(segment.mean('hd95_mm'))}{_plain_cell(segment.mean('assd_mm'))}"
            "</tr>"
        )
    return ("<table><tr><th class='name'>segment</th><th>mean Dice</th><th>lowest Dice</th><th>lowest pair</th>"
            f"<th>mean HD95 (mm)</th><th>mean ASSD (mm)</th></tr>{''.join(rows)}</table>")


def _pairs_table(segment: SegmentAgreement) -> str:
    rows = [_metrics_row(str(pair.a), str(pair.b), pair.metrics) for pair in segment.pairs]
    if segment.versus_reference is not None:
        rows += [_metrics_row("ref", str(index), m) for index, m in enumerate(segment.versus_reference)]
    return ("<table><tr><th>a</th><th>b</th><th>Dice</th><th>Jaccard</th><th>vol a (mL)</th><th>vol b (mL)</th>"
            "<th>b − a (mL)</th><th>Hausdorff (mm)</th><th>HD95 (mm)</th><th>ASSD (mm)</th></tr>"
            f"{''.join(rows)}</table>")


def _metrics_row(a: str, b: str, m: OverlapMetrics) -> str:
    return (f"<tr><td>{_e(a)}</td><td>{_e(b)}</td>{_metric_cell(m.dice)}{_plain_cell(m.jaccard)}"
            f"{_plain_cell(m.volume_a_ml)}{_plain_cell(m.volume_b_ml)}{_plain_cell(m.volume_diff_ml)}"
            f"{_plain_cell(m.hausdorff_mm)}{_plain_cell(m.hd95_mm)}{_plain_cell(m.assd_mm)}</tr>")


def _annotator_table(report: AgreementReport, consensus: ConsensusResult | None) -> str:
    """Each annotator's mean Dice against the others (and against the reference, and STAPLE quality)."""
    count = len(report.inputs)
    header = "<th>#</th><th class='name'>input</th><th>mean Dice vs others</th>"
    if report.reference is not None:
        header += f"<th>mean Dice vs {_e(report.reference)}</th>"
    if consensus is not None and consensus.method.value == "staple":
        header += "<th>STAPLE sensitivity</th><th>STAPLE specificity</th>"
    rows = []
    for index in range(count):
        dice = [p.metrics.dice for s in report.segments for p in s.pairs if index in (p.a, p.b)]
        cells = f"<td>{index}</td><td class='name'>{_e(report.inputs[index])}</td>{_metric_cell(_mean(dice))}"
        if report.reference is not None:
            cells += _metric_cell(_mean([s.versus_reference[index].dice for s in report.segments
                                         if s.versus_reference is not None]))
        if consensus is not None and consensus.method.value == "staple":
            performances = [s.annotators[index] for s in consensus.segments if index < len(s.annotators)]
            cells += _plain_cell(_mean([a.sensitivity for a in performances if a.sensitivity is not None]))
            cells += _plain_cell(_mean([a.specificity for a in performances if a.specificity is not None]))
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{header}</tr>{''.join(rows)}</table>"


def _strip_plot(values: Mapping[str, Sequence[float | None]], *, unit: str, upper: float | None = None) -> str:
    """One row per label, one dot per value, a bar at the mean; undefined values are counted, not drawn."""
    width, row_height, left, right = 720, 28, 180, 30
    defined = [v for series in values.values() for v in series if v is not None]
    top = upper if upper is not None else max(defined, default=1.0) or 1.0
    scale = (width - left - right) / top
    height = row_height * max(len(values), 1) + 30
    items = [f"<svg role='img' width='{width}' height='{height}' xmlns='http://www.w3.org/2000/svg'>"]
    for tick in range(5):
        x = left + tick * (width - left - right) / 4
        items.append(f"<line x1='{x:.1f}' y1='0' x2='{x:.1f}' y2='{height - 20}' stroke='#dde'/>")
        items.append(f"<text x='{x:.1f}' y='{height - 5}' font-size='11' text-anchor='middle'>"
                     f"{top * tick / 4:.3g}{_e(unit)}</text>")
    for row, (label, series) in enumerate(values.items()):
        y = row * row_height + row_height / 2 + 4
        present = [v for v in series if v is not None]
        missing = len(series) - len(present)
        note = f" ({missing} undefined)" if missing else ""
        items.append(f"<text x='5' y='{y + 4:.1f}' font-size='12'>{_e(label)}{_e(note)}</text>")
        for value in present:
            items.append(f"<circle cx='{left + value * scale:.1f}' cy='{y:.1f}' r='4' fill='#3b6fb6' "
                         "fill-opacity='0.6'/>")
        if present:
            x = left + _mean(present) * scale
            items.append(f"<line x1='{x:.1f}' y1='{y - 9:.1f}' x2='{x:.1f}' y2='{y + 9:.1f}' stroke='#c0392b' "
                         "stroke-width='2'/>")
    items.append("</svg>")
    return "".join(items)


def _metric_cell(value: float | None) -> str:
    if value is None:
        return "<td>—</td>"
    css = "low" if value < LOW_DICE else "high"
    return f"<td class='{css}'>{value:.3f}</td>"


def _plain_cell(value: float | None) -> str:
    return "<td>—</td>" if value is None else f"<td>{value:.3f}</td>"


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)
