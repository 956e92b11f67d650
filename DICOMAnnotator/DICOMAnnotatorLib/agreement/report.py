"""Agreement and evaluation reports as one self-contained HTML page (inline CSS and SVG, no scripts, no network).

A reviewer should see at a glance which structures annotators disagree on and which
annotator is the outlier: per-segment tables, strip plots of Dice and HD95 over annotator
pairs (or over cases, for a dataset), and per-annotator performance. A model's evaluation
shows, per structure, the distribution over cases of Dice, HD95 and volume difference against
the signed results (box plots with every case as a dot), and each case's figures.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

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


def render_evaluation_report(evaluation: Mapping[str, Any]) -> str:
    """The HTML page of an ``evaluate --json`` object: a model's drafts against the signed results."""
    title = f"{evaluation['algorithm']} against the signed results of project {evaluation['project']}"
    versions = ", ".join(evaluation.get("algorithm_versions") or []) or "—"
    parts = [f"<h1>{_e(title)}</h1>",
             f"<p>Version(s) {_e(versions)}; {evaluation['cases_evaluated']} case(s) evaluated against "
             f"{_e(evaluation['reference'])}.</p>"]
    if evaluation.get("not_evaluated"):
        rows = "".join(f"<tr><td>{_e(item['case'])}</td><td class='name'>{_e(item['reason'])}</td></tr>"
                       for item in evaluation["not_evaluated"])
        parts.append(f"<h2>Not evaluated</h2><table><tr><th>case</th><th class='name'>why</th></tr>{rows}</table>")
    parts += ["<h2>Summary per structure</h2>", _evaluation_table(evaluation["segments"])]
    per_case = {segment["segment"]: [] for segment in evaluation["segments"]}
    for case in evaluation["cases"]:
        for entry in case["segments"]:
            if entry["draft_voxels"] or entry["reference_voxels"]:
                per_case[entry["segment"]].append(entry)
    for heading, key, unit, bounds in (("Dice", "dice", "", (0.0, 1.0)), ("HD95 (mm)", "hd95_mm", " mm", None),
                                       ("Volume difference, draft − reference (mL)", "volume_difference_ml", " mL",
                                        None)):
        parts.append(f"<h2>{_e(heading)} per structure (box: quartiles, line: median, dots: cases)</h2>")
        parts.append(_box_plot({label: [e[key] for e in entries] for label, entries in per_case.items()},
                               unit=unit, bounds=bounds))
    labels = list(per_case)
    header = "".join(f"<th>{_e(label)} Dice</th><th>{_e(label)} HD95</th>" for label in labels)
    rows = []
    for case in evaluation["cases"]:
        by_label = {entry["segment"]: entry for entry in case["segments"]}
        cells = "".join(_metric_cell(by_label[label]["dice"]) + _plain_cell(by_label[label]["hd95_mm"])
                        if label in by_label else "<td>—</td><td>—</td>" for label in labels)
        rows.append(f"<tr><td>{_e(case['case'])}</td>{cells}</tr>")
    parts += ["<h2>Cases</h2>", f"<table><tr><th>case</th>{header}</tr>{''.join(rows)}</table>", "<h2>Definitions</h2>",
              "<dl>" + "".join(f"<dt>{_e(term)}</dt><dd class='note'>{_e(text)}</dd>"
                               for term, text in evaluation["definitions"].items()) + "</dl>"]
    return _page(title, parts)


def _evaluation_table(segments: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for segment in segments:
        dice, hd95, volume = segment["dice"], segment["hd95_mm"], segment["volume_difference_ml"]
        rows.append(f"<tr><td class='name'>{_e(segment['segment'])}</td><td>{segment['cases']}</td>"
                    f"<td>{segment['cases_both_empty']}</td>{_metric_cell(dice['mean'])}{_metric_cell(dice['median'])}"
                    f"<td>{_range(dice)}</td>{_plain_cell(hd95['median'])}<td>{_range(hd95)}</td>"
                    f"<td>{hd95['undefined']}</td>{_plain_cell(volume['median'])}<td>{_range(volume)}</td></tr>")
    return ("<table><tr><th class='name'>structure</th><th>cases</th><th>both empty</th><th>mean Dice</th>"
            "<th>median Dice</th><th>Dice q1–q3</th><th>median HD95 (mm)</th><th>HD95 q1–q3</th><th>HD95 undefined</th>"
            f"<th>median volume diff (mL)</th><th>volume diff q1–q3</th></tr>{''.join(rows)}</table>")


def _range(summary: Mapping[str, Any]) -> str:
    return "—" if summary["q1"] is None else f"{summary['q1']:.3f}–{summary['q3']:.3f}"


def _box_plot(values: Mapping[str, Sequence[float | None]], *, unit: str,
              bounds: tuple[float, float] | None = None) -> str:
    """One row per label: a box from the first to the third quartile, the median, whiskers to the extremes and
    one dot per value; undefined values are counted, not drawn. The axis includes 0."""
    import numpy as np

    width, row_height, left, right = 720, 30, 180, 30
    defined = [v for series in values.values() for v in series if v is not None]
    low, high = bounds if bounds is not None else (min([0.0, *defined]), max([0.0, *defined]))
    high = high if high > low else low + 1.0
    scale = (width - left - right) / (high - low)

    def x(value: float) -> float:
        return left + (value - low) * scale

    height = row_height * max(len(values), 1) + 30
    items = [f"<svg role='img' width='{width}' height='{height}' xmlns='http://www.w3.org/2000/svg'>"]
    for tick in range(5):
        value = low + tick * (high - low) / 4
        items.append(f"<line x1='{x(value):.1f}' y1='0' x2='{x(value):.1f}' y2='{height - 20}' stroke='#dde'/>")
        items.append(f"<text x='{x(value):.1f}' y='{height - 5}' font-size='11' text-anchor='middle'>"
                     f"{value:.3g}{_e(unit)}</text>")
    for row, (label, series) in enumerate(values.items()):
        y = row * row_height + row_height / 2 + 4
        present = np.array([v for v in series if v is not None], dtype=float)
        missing = len(series) - present.size
        items.append(f"<text x='5' y='{y + 4:.1f}' font-size='12'>{_e(label)}"
                     f"{_e(f' ({missing} undefined)') if missing else ''}</text>")
        if present.size:
            q1, median, q3 = np.percentile(present, [25, 50, 75])
            items.append(f"<line x1='{x(present.min()):.1f}' y1='{y:.1f}' x2='{x(present.max()):.1f}' y2='{y:.1f}' "
                         "stroke='#7a8699'/>")
            items.append(f"<rect x='{x(q1):.1f}' y='{y - 8:.1f}' width='{max(x(q3) - x(q1), 1):.1f}' height='16' "
                         "fill='#dbe6f6' stroke='#3b6fb6'/>")
            items.append(f"<line x1='{x(median):.1f}' y1='{y - 9:.1f}' x2='{x(median):.1f}' y2='{y + 9:.1f}' "
                         "stroke='#c0392b' stroke-width='2'/>")
        items += [f"<circle cx='{x(v):.1f}' cy='{y:.1f}' r='3' fill='#1d2530' fill-opacity='0.5'/>" for v in present]
    items.append("</svg>")
    return "".join(items)


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
