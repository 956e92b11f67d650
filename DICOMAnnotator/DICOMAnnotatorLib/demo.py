"""The demo flow, step by step, on a generated phantom CT (no real patient data).

Each step yields a line for the user: de-identify a CT series that carries identifiers, load
it, build a segmentation, write each reader's DICOM SEG, read the SEGs back, merge them with
STAPLE into a consensus SEG with its TID 1500 measurement report, report agreement, export the
consensus for training (NIfTI) and planning (surface models), compare and merge three readers'
landmarks and grades (SRs), run the case through the review store (submissions, consensus,
two review tiers, signature, audit check), and export the signed case as a dataset with its card.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from scipy import ndimage

from .agreement import build_consensus, render_case_report, segmentation_agreement
from .atomic import atomic_path
from .deid import DeidOptions, deidentify_tree
from .export import export_models, export_nifti
from .imaging import (
    PHANTOM_SEGMENTS,
    ReferenceSeries,
    Segmentation,
    phantom_geometry,
    write_image,
    write_phantom_series,
)
from .seg import read_segs, write_seg
from .sr import export_sr

#: The protocol of the demo's review project (its liver and lesion structures are the phantom's).
REVIEW_PROTOCOL = "liver-lesions-ct"
#: The demo's de-identification key (a real project keeps its own secret: same key, same UIDs).
DEMO_KEY = b"dicom-annotator demo key - not a secret"


def run_demo(output: str | os.PathLike[str], *, force: bool = False) -> Iterator[str]:
    """Run the demo into ``output`` (created whole, or not at all) and describe each step."""
    output = Path(output)
    with atomic_path(output, force=force, directory=True) as work:
        with tempfile.TemporaryDirectory() as identified:
            geometry, _hu, labels = write_phantom_series(
                identified, phantom_geometry(size=(128, 96, 40), spacing=(0.8, 0.7, 2.0)))
            summary = deidentify_tree(identified, work / "series", DeidOptions(), DEMO_KEY)
        yield (f"1. Wrote a synthetic CT series of {geometry.size[2]} slices with patient identifiers and "
               f"de-identified it (PS3.15 Basic Profile: {summary.removed} attributes removed, "
               f"{summary.replaced} replaced): {output / 'series'}")
        series_folder = work / "series"

        series = ReferenceSeries.from_paths(series_folder)
        g = series.geometry
        yield (f"2. Loaded series {series.series_instance_uid} ({series.modality}): "
               f"{g.size[0]} x {g.size[1]} x {g.size[2]} voxels, spacing "
               + " x ".join(f"{v:.3g}" for v in g.spacing) + " mm")
        yield "   Voxel-to-patient (LPS) affine:"
        yield from ("     " + " ".join(f"{v:9.3f}" for v in row) for row in g.affine)

        segmentation = Segmentation.from_labelmap(series.geometry, labels, PHANTOM_SEGMENTS,
                                                  reference=series, author="Demo^Annotator")
        write_image(segmentation.to_labelmap(), series.geometry, work / "labels.nii.gz")
        yield f"3. Built a segmentation and wrote its label map: {output / 'labels.nii.gz'}"
        yield from ("   " + line for line in segmentation.summary().splitlines())

        drawn = [_simulated_reader(segmentation, labels, seed, name)
                 for seed, name in enumerate(("Reader^One", "Reader^Two", "Reader^Three"))]
        seg_paths = [write_seg(reader, work / "segs" / f"reader{n}.dcm") for n, reader in enumerate(drawn, start=1)]
        readers = read_segs(seg_paths, series)
        names = [r.author for r in readers]
        yield f"4. Three simulated readers, each saved as a DICOM SEG: {output / 'segs'}"
        consensus = build_consensus(readers, names, method="staple", missing_as_empty=True, author="Demo^Lead")
        consensus_path = write_seg(consensus.segmentation, work / "segs" / "consensus.dcm", content_label="CONSENSUS",
                                   series_description="SEG STAPLE consensus")
        export_sr(consensus_path, series_folder, work / "segs" / "consensus-sr.dcm", creator="Demo^Lead")
        yield (f"   merged with STAPLE into {output / 'segs' / 'consensus.dcm'}, measured in "
               f"{output / 'segs' / 'consensus-sr.dcm'} (TID 1500); sensitivity / specificity per reader:")
        for entry in consensus.segments:
            figures = ", ".join(f"{a.input} {a.sensitivity:.3f}/{a.specificity:.5f}" for a in entry.annotators)
            yield f"   {entry.matched.description.label}: {figures}"

        report = segmentation_agreement(readers, names, reference=consensus.segmentation)
        (work / "agreement.html").write_text(
            render_case_report(report, consensus=consensus, title="Demo case: agreement"), encoding="utf-8")
        yield f"5. Agreement (mean pairwise Dice) written to {output / 'agreement.html'}:"
        for entry in report.segments:
            label, dice, hd95 = entry.matched.description.label, entry.mean("dice"), entry.mean("hd95_mm")
            yield f"   {label}: Dice {dice:.3f}, HD95 {hd95:.2f} mm"

        export_nifti(consensus.segmentation, work / "nifti", source="STAPLE consensus")
        models = export_models(consensus.segmentation, work / "models")
        yield f"6. Consensus exported as NIfTI for training: {output / 'nifti'}"
        yield f"   and as {len(models)} STL surface models for planning: {output / 'models'}"
        yield from _vertebrae(work, output, series)
    yield from _review(output, drawn)
    yield from _dataset(output)
    yield f"Done: all outputs are in {output}"


def _vertebrae(work: Path, output: Path, series: ReferenceSeries) -> Iterator[str]:
    """Landmarks and grades (the vertebral fracture protocol): three readers' SRs compared and merged."""
    from .agreement import compare_annotations, consensus_content, read_annotations
    from .protocols import load_protocol
    from .review import write_consensus_sr
    from .sr import ClassificationLabel, Mark, build_sr, write_sr

    protocol = load_protocol("vertebral-fractures-ct")
    genant = protocol.structure("Genant fracture grade")
    grade = {value.meaning: value for value in genant.values}
    centre = np.array(series.geometry.size, dtype=float) / 2
    readings = {"Reader^One": ("None", "Mild", "Moderate"), "Reader^Two": ("None", "Moderate", "Moderate"),
                "Reader^Three": ("None", "Mild", "Severe")}
    paths = []
    for n, (reader, grades) in enumerate(readings.items()):
        marks = [Mark(index=k, kind="point", label=level, structure=level, finding=protocol.structure(level).type,
                      finding_category=protocol.structure(level).category,
                      points_mm=series.geometry.index_to_lps(np.array([centre + [n, 0, 8 * k - 8]])))
                 for k, level in enumerate(("T12", "L1", "L2"))]
        labels = [ClassificationLabel(genant.type, grade[g], mark=k) for k, g in enumerate(grades)]
        sr = build_sr(None, None, [], marks=marks, labels=labels, creator=reader, protocol_id=protocol.id,
                      reference=series)
        paths.append(write_sr(sr, work / "vertebrae" / f"reader{n + 1}-sr.dcm"))
    compared = compare_annotations([read_annotations(p) for p in paths], list(readings))
    write_consensus_sr(compared, work / "vertebrae" / "consensus-sr.dcm", seg=None, reference=series,
                       protocol=protocol, creator="Demo^Lead")
    marks, labels = consensus_content(compared, protocol)
    report = compared.to_json()
    distances = [pair["distance_mm"] for mark in report["marks"] for pair in mark["pairs"]]
    [row] = report["label_agreement"]
    yield (f"7. Vertebral fracture grading (landmarks T12-L2, Genant grades) by the three readers as TID 1500 SRs, "
           f"merged into {output / 'vertebrae' / 'consensus-sr.dcm'}:")
    yield (f"   landmarks {min(distances):.1f}-{max(distances):.1f} mm apart; grades agree on "
           f"{row['percent_agreement']:.0f}% of vertebrae, Fleiss' kappa {row['fleiss_kappa']:.2f}; consensus: "
           + ", ".join(f"{marks[label.mark].label} {label.value.meaning}" for label in labels))


def _review(output: Path, readers: list[Segmentation]) -> Iterator[str]:
    """The case through the review store: the readers' work as the protocol's structures, submitted, merged by
    the store, reviewed on two tiers and signed."""
    from . import review
    from .protocols import load_protocol
    from .review import create_sample_project

    protocol = load_protocol(REVIEW_PROTOCOL)
    series = ReferenceSeries.from_paths(output / "series")
    url = f"sqlite:///{output / 'review.db'}"
    case = create_sample_project(url, "demo", protocol, output / "series",
                                 annotators=("reader1", "reader2", "reader3"), reviewer="reviewer",
                                 radiologist="radiologist")
    with review.ReviewStore(url) as store:
        for n, reader in enumerate(readers, start=1):
            labels = reader.to_labelmap()
            labels[labels > len(protocol.segment_structures)] = 0  # the vertebra is not this protocol's
            drawn = Segmentation.from_labelmap(series.geometry, labels, protocol.segment_descriptions(),
                                               reference=series, author=reader.author)
            review.submit(store, case, f"reader{n}", write_seg(drawn, output / "review" / f"reader{n}.dcm"))
        review.record_consensus(store, case, "reviewer", method="staple", output=output / "review" / "consensus.dcm")
        review.review_case(store, case, "reviewer", "approve")
        review.review_case(store, case, "radiologist", "approve", "Margins checked")
        signature = review.finalize_case(store, case, "radiologist", "Approved as reference standard")
        with store.read() as conn:
            intact = review.verify_chain(conn).intact
    yield (f"8. Review store {output / 'review.db'}: the readers' liver and lesion SEGs ({output / 'review'}) "
           f"submitted, merged by STAPLE, approved by the reviewer and the radiologist, signed by {signature.user} "
           f"({signature.meaning}); the store's own copies in {output / 'review-files'}; audit chain "
           f"{'intact' if intact else 'BROKEN'}")
    yield (f"   (try: dicom-annotator project status demo --store sqlite:///{output / 'review.db'} --json; "
           f"dicom-annotator audit verify --store sqlite:///{output / 'review.db'})")


def _dataset(output: Path) -> Iterator[str]:
    """The signed case exported as a training dataset (NIfTI, manifest, splits) and its dataset card."""
    import json

    from .dataset import build_card, export_dataset, render_card
    from .review import LocalService, ReviewStore

    with ReviewStore(f"sqlite:///{output / 'review.db'}") as store:
        manifest = export_dataset(LocalService(store, "lead"), "demo", output / "dataset", jobs=1)
    card = build_card(manifest)
    (output / "dataset-card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    (output / "dataset-card.html").write_text(render_card(card), encoding="utf-8")
    [entry] = manifest["cases"]
    volumes = ", ".join(f"{s['structure']} {s['volume_ml']:.1f} mL" for s in entry["structures"])
    yield (f"9. Dataset of the final case exported for training: {output / 'dataset'} (NIfTI image and label map, "
           f"manifest.json and manifest.csv; split: {entry['split']}; {volumes})")
    yield f"   dataset card: {output / 'dataset-card.html'} (figures in {output / 'dataset-card.json'})"


def _simulated_reader(truth: Segmentation, labels: np.ndarray, seed: int, name: str) -> Segmentation:
    """A reader who draws each structure a little larger or smaller, as people do (one label per voxel)."""
    rng = np.random.default_rng(seed)
    drawn = np.zeros_like(labels)
    for description in truth.segments:
        mask = labels == description.number
        grow = int(rng.integers(-1, 2))
        if grow > 0:
            mask = ndimage.binary_dilation(mask, iterations=grow) & ((labels == 0) | mask)
        elif grow < 0:
            mask = ndimage.binary_erosion(mask, iterations=-grow)
        drawn[mask & (drawn == 0)] = description.number
    return Segmentation.from_labelmap(truth.geometry, drawn, truth.segments, reference=truth.reference, author=name)
