"""The dataset card as one self-contained HTML page: figures in tables and plots (inline SVG), no scripts."""

from __future__ import annotations

from html import escape
from typing import Any

from .plots import bar_chart, strip_plot

STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
.figures { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { border: 1px solid #ddd; padding: 3px 8px; }
th { background: #f3f3f3; text-align: left; } td.n { text-align: right; } .from { color: #666; font-size: 0.85em; }
.summary span { display: inline-block; margin-right: 2em; font-size: 1.2em; }
"""


def render_card(card: dict[str, Any]) -> str:
    size, splits, comp = card["size"], card["splits"], card["composition"]
    source = card["source"]
    protocol = source.get("protocol") or {}
    structures = card["labels"]["structures"]
    sections = [
        _section("Composition", comp["from"], [
            bar_chart("Cases per split", {k: v["cases"] for k, v in splits["splits"].items()}),
            bar_chart("Modalities", comp["modalities"]), bar_chart("Scanners (manufacturer / model)", comp["scanners"]),
            bar_chart("Slice thickness", comp["slice_thickness_mm"], label_unit=" mm"),
            bar_chart("Pixel spacing", comp["pixel_spacing_mm"], label_unit=" mm"),
            bar_chart("Sex", comp["sex"]), bar_chart("Age bands (years)", comp["age_bands"])],
            _table(["split", "cases", "patients"],
                   [[k, v["cases"], v["patients"]] for k, v in splits["splits"].items()])
            + f"<p>Splits are drawn by patient (seed {escape(str(splits['seed']))}"
            + (f", stratified by {escape(str(splits['stratify_by']))}" if splits["stratify_by"] else "")
            + f"): patients in more than one split: <b>{splits['patients_in_more_than_one_split']}</b>.</p>"),
        _section("Label coverage", card["labels"]["from"], [
            bar_chart("Cases per structure", {s["structure"]: s["cases"] for s in structures}),
            strip_plot("Volume per case (mL)", [(s["structure"], s["volumes_ml"]) for s in structures], unit=" mL"),
            *(bar_chart(f"Answers: {q['question']}", q["answers"]) for q in card["answers"]["questions"])],
            _table(["structure", "cases", "% of cases", "total mL", "mean mL", "median mL", "min mL", "max mL"],
                   [[s["structure"], s["cases"], s["cases_percent"], *(s["volume_ml"][k] for k in
                     ("total", "mean", "median", "min", "max"))] for s in card["labels"]["structures"]])),
        _section("Agreement between annotators", card["agreement"]["from"], [
            strip_plot("Dice per case", [(s["structure"], s["values"]) for s in card["agreement"]["structures"]],
                       low=0.0, high=1.0)],
            f"<p>{escape(card['agreement']['measure'])}.</p>"
            + _table(["structure", "cases", "mean", "median", "min", "max"],
                     [[s["structure"], s["cases"], *(s["dice"][k] for k in ("mean", "median", "min", "max"))]
                      for s in card["agreement"]["structures"]])),
        _section("Review", card["review"]["from"], [
            bar_chart("Cases approved at each tier", {f"{t['tier']}. {t['name']} ({t['role']})": t["cases"]
                                                      for t in card["review"]["tiers"]}),
            bar_chart("Review rounds per case", card["review"]["rounds"])],
            f"<p>Signed: <b>{card['review']['signed']}</b> of {size['cases']} cases; changes requested on "
            f"<b>{card['review']['changes_requested']['cases']}</b> cases "
            f"({card['review']['changes_requested']['requests']} requests). Consensus: "
            + escape(", ".join(f"{k}: {v}" for k, v in card["review"]["consensus"].items())) + ". Signed by: "
            + escape(", ".join(f"{k} ({v})" for k, v in card["review"]["signers"].items())) + ".</p>"),
        _section("De-identification", card["deidentification"]["from"], [
            bar_chart("Options applied (cases)", card["deidentification"]["options"])],
            _table(["Patient Identity Removed", "cases"], list(card["deidentification"]["patient_identity_removed"]
                                                                 .items()))
            + _table(["method", "cases"], list(card["deidentification"]["methods"].items()))),
        _section("Protocol versions", card["protocol_versions"]["from"], [],
                 _table(["protocol version", "cases"], [[k, v] for k, v in card["protocol_versions"].items()
                                                        if k != "from"])),
        _drafts_section(card["ai_drafts"]),
    ]
    summary = "".join(f"<span><b>{size[key]}</b> {key}</span>" for key in ("cases", "patients", "studies", "series"))
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(card['title'])}</title>"
            f"<style>{STYLE}</style></head><body><h1>{escape(card['title'])}</h1>"
            f"<p>Protocol {escape(str(protocol.get('id')))} version {escape(str(protocol.get('version')))}; "
            f"exported as {escape(str(source.get('format') or 'manifest only'))} by "
            f"{escape(str(source.get('created_with')))}. Every figure is counted from manifest.json (SHA-256 "
            f"<code>{source['manifest_sha256']}</code>); each section names the fields it counts.</p>"
            f"<p class=\"summary\">{summary}</p>{''.join(sections)}</body></html>\n")


def _drafts_section(drafts: dict[str, Any]) -> str:
    """How many cases started from an AI draft and how much the experts corrected the drafts."""
    structures = drafts["structures"]
    plots = [strip_plot("Dice between the AI draft and the final submissions, per case",
                        [(s["structure"], s["values"]) for s in structures], low=0.0, high=1.0)] if structures else []
    body = (f"<p>Cases started from an AI draft: <b>{drafts['cases']}</b>"
            + (" (" + escape(", ".join(f"{k}: {v}" for k, v in drafts["algorithms"].items())) + ")"
               if drafts["algorithms"] else "") + ".</p>")
    if structures:
        body += _table(["structure", "cases", "mean Dice", "median Dice", "min Dice", "median HD95 mm",
                        "voxels added", "voxels removed"],
                       [[s["structure"], s["cases"], s["dice"]["mean"], s["dice"]["median"], s["dice"]["min"],
                         s["hd95_mm"]["median"], s["voxels_added"], s["voxels_removed"]] for s in structures])
    return _section("AI drafts: how much the experts corrected them", drafts["from"], plots, body)


def _section(title: str, source: str, plots: list[str], body: str) -> str:
    return (f"<section><h2>{escape(title)}</h2><p class=\"from\">From {escape(source)}</p>{body}"
            f"<div class=\"figures\">{''.join(plots)}</div></section>")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"<td class=\"n\">{value:g}</td>" if isinstance(value, float) else f"<td class=\"n\">{value}</td>"
    return f"<td>{escape('-' if value is None else str(value))}</td>"
