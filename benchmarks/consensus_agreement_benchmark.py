"""Consensus and agreement: DICOMAnnotatorLib versus SimpleITK used directly and plain numpy/scipy.

Each measurement runs in its own process (time and peak memory of that process), on the
same synthetic annotations: N annotators x S segments on a 512x512x300 grid (about 5% of
the voxels labelled), each annotator the truth with its own boundary noise and offset.

    .venv/bin/python benchmarks/consensus_agreement_benchmark.py [--quick] [--annotators 3 5] [--segments 1 10]

Figures computed by every contender for agreement: per segment and annotator pair Dice,
Jaccard, volumes, Hausdorff, HD95 and ASSD. For consensus: majority vote, and STAPLE per
segment with sensitivity/specificity.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
from process_measure import in_new_process

SPACING_KJI = (1.0, 0.7, 0.7)


def make_annotations(shape, annotators: int, segments: int, seed: int = 0) -> list[dict[int, tuple]]:
    """Per annotator, per segment: (box, mask in box). Ellipsoids of ~5%/S of the volume each."""
    rng = np.random.default_rng(seed)
    volume_per_segment = 0.05 * np.prod(shape) / segments
    result: list[dict[int, tuple]] = [{} for _ in range(annotators)]
    for segment in range(1, segments + 1):
        radius_scale = (volume_per_segment / (4 / 3 * np.pi)) ** (1 / 3)
        radii = radius_scale * np.array([0.8, 1.1, 1.15])
        centre = [rng.uniform(r + 3, n - r - 3) for r, n in zip(radii, shape, strict=True)]
        for a in range(annotators):
            offset = rng.normal(0, 1.0, 3)
            scale = 1 + rng.normal(0, 0.04)
            lo = [max(int(c - r * 1.3) - 2, 0) for c, r in zip(centre, radii, strict=True)]
            hi = [min(int(c + r * 1.3) + 3, n) for c, r, n in zip(centre, radii, shape, strict=True)]
            box = tuple(slice(a_, b_) for a_, b_ in zip(lo, hi, strict=True))
            grid = np.ogrid[box]
            inside = sum(((g - c - o) / (r * scale)) ** 2 for g, c, o, r in zip(grid, centre, offset, radii,
                                                                                  strict=True)) <= 1
            noise = rng.random(inside.shape) < 0.02
            result[a][segment] = (box, inside ^ (noise & _shell(inside)))
    return result


def _shell(mask):
    from scipy import ndimage

    return ndimage.binary_dilation(mask) & ~ndimage.binary_erosion(mask)


def full_mask(shape, entry) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    box, values = entry
    mask[box] = values
    return mask


# --------------------------------------------------------------------- contenders
def as_segmentations(shape, annotations):
    from DICOMAnnotatorLib.dicom.codes import Code
    from DICOMAnnotatorLib.imaging.geometry import VolumeGeometry
    from DICOMAnnotatorLib.imaging.segmentation import Segmentation, SegmentDescription

    geometry = VolumeGeometry.from_axes(shape[::-1], (0, 0, 0), SPACING_KJI[::-1], np.eye(3))
    return [
        Segmentation.from_cropped_masks(
            geometry,
            [SegmentDescription(n, f"S{n}", type=Code(f"9{n:05d}", "99BENCH", f"Structure {n}")) for n in per_segment],
            per_segment,
        )
        for per_segment in annotations
    ]


def ours_agreement(shape, annotations):
    from DICOMAnnotatorLib.agreement.segmentations import segmentation_agreement

    segmentations = as_segmentations(shape, annotations)
    report = segmentation_agreement(segmentations, [f"a{n}" for n in range(len(segmentations))])
    return {"pairs": sum(len(s.pairs) for s in report.segments),
            "mean_dice": float(np.mean([p.metrics.dice for s in report.segments for p in s.pairs]))}


def ours_consensus(shape, annotations, method):
    from DICOMAnnotatorLib.agreement.consensus import build_consensus

    segmentations = as_segmentations(shape, annotations)
    result = build_consensus(segmentations, [f"a{n}" for n in range(len(segmentations))], method=method)
    return {"voxels": int(sum(result.segmentation.voxel_count(s.number) for s in result.segmentation.segments))}


def sitk_agreement(shape, annotations):
    import SimpleITK as sitk

    spacing = SPACING_KJI[::-1]
    pairs, dice = 0, []
    for segment in annotations[0]:
        images = []
        for per_segment in annotations:
            image = sitk.GetImageFromArray(full_mask(shape, per_segment[segment]).astype(np.uint8))
            image.SetSpacing(spacing)
            images.append(image)
        contours = [sitk.LabelContour(image, fullyConnected=False) for image in images]
        distance_maps = [sitk.Abs(sitk.SignedMaurerDistanceMap(c, insideIsPositive=False, squaredDistance=False,
                                                               useImageSpacing=True)) for c in contours]
        for a, b in itertools.combinations(range(len(images)), 2):
            overlap = sitk.LabelOverlapMeasuresImageFilter()
            overlap.Execute(images[a], images[b])
            hausdorff = sitk.HausdorffDistanceImageFilter()
            hausdorff.Execute(images[a], images[b])
            a_to_b = sitk.GetArrayViewFromImage(distance_maps[b])[sitk.GetArrayViewFromImage(contours[a]) > 0]
            b_to_a = sitk.GetArrayViewFromImage(distance_maps[a])[sitk.GetArrayViewFromImage(contours[b]) > 0]
            _ = (max(np.percentile(a_to_b, 95), np.percentile(b_to_a, 95)),
                 (a_to_b.sum() + b_to_a.sum()) / (a_to_b.size + b_to_a.size),
                 overlap.GetJaccardCoefficient(), hausdorff.GetHausdorffDistance())
            dice.append(overlap.GetDiceCoefficient())
            pairs += 1
    return {"pairs": pairs, "mean_dice": float(np.mean(dice))}


def sitk_consensus(shape, annotations, method):
    import SimpleITK as sitk

    voxels = 0
    for segment in annotations[0]:
        images = [sitk.GetImageFromArray(full_mask(shape, a[segment]).astype(np.uint8)) for a in annotations]
        if method == "majority":
            voting = sitk.LabelVotingImageFilter()
            voting.SetLabelForUndecidedPixels(0)
            output = voting.Execute(images)  # keep the image alive while its array view is read
            result = sitk.GetArrayViewFromImage(output) == 1
        else:
            staple = sitk.STAPLEImageFilter()
            staple.SetForegroundValue(1)
            output = staple.Execute(images)
            result = sitk.GetArrayViewFromImage(output) > 0.5
        voxels += int(np.count_nonzero(result))
    return {"voxels": voxels}


def numpy_agreement(shape, annotations):
    """The plain way: full-volume masks, a distance transform per pair and direction.

    It is about 100x slower than ours, so it runs on one-segment cases only (see main).
    """
    if len(annotations[0]) > 1:
        return {"skipped": "plain numpy/scipy runs on one-segment cases only (about 100x slower)"}
    from scipy import ndimage

    structure = ndimage.generate_binary_structure(3, 1)
    pairs, dice = 0, []
    for segment in annotations[0]:
        masks = [full_mask(shape, a[segment]) for a in annotations]
        for a, b in itertools.combinations(range(len(masks)), 2):
            ma, mb = masks[a], masks[b]
            inter = np.count_nonzero(ma & mb)
            dice.append(2 * inter / (ma.sum() + mb.sum()))
            sa = ma & ~ndimage.binary_erosion(ma, structure)
            sb = mb & ~ndimage.binary_erosion(mb, structure)
            a_to_b = ndimage.distance_transform_edt(~sb, sampling=SPACING_KJI)[sa]
            b_to_a = ndimage.distance_transform_edt(~sa, sampling=SPACING_KJI)[sb]
            _ = (max(a_to_b.max(), b_to_a.max()), max(np.percentile(a_to_b, 95), np.percentile(b_to_a, 95)))
            pairs += 1
    return {"pairs": pairs, "mean_dice": float(np.mean(dice))}


def numpy_consensus(shape, annotations, method):
    if method != "majority":
        return {"skipped": "no plain-numpy STAPLE"}
    voxels = 0
    for segment in annotations[0]:
        votes = sum(full_mask(shape, a[segment]).astype(np.uint8) for a in annotations)
        voxels += int(np.count_nonzero(votes * 2 > len(annotations)))
    return {"voxels": voxels}


CONTENDERS = {
    ("agreement", "ours"): ours_agreement,
    ("agreement", "SimpleITK"): sitk_agreement,
    ("agreement", "numpy/scipy"): numpy_agreement,
    ("majority", "ours"): lambda s, a: ours_consensus(s, a, "majority"),
    ("majority", "SimpleITK"): lambda s, a: sitk_consensus(s, a, "majority"),
    ("majority", "numpy/scipy"): lambda s, a: numpy_consensus(s, a, "majority"),
    ("staple", "ours"): lambda s, a: ours_consensus(s, a, "staple"),
    ("staple", "SimpleITK"): lambda s, a: sitk_consensus(s, a, "staple"),
}


def _child(task, contender, shape, annotators, segments, queue):
    annotations = make_annotations(shape, annotators, segments)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    summary = CONTENDERS[(task, contender)](shape, annotations)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({"seconds": elapsed, "peak_mb": peak / 1024, "extra_mb": (peak - base) / 1024, **summary})


def measure(task, contender, shape, annotators, segments) -> dict:
    return in_new_process(_child, task, contender, shape, annotators, segments)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 256x256x100 grid instead of 512x512x300")
    parser.add_argument("--annotators", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--segments", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    shape = (100, 256, 256) if args.quick else (300, 512, 512)
    rows = []
    print(f"grid {shape[2]}x{shape[1]}x{shape[0]}; time in s, peak memory of the process in MB", file=sys.stderr)
    print("| task | annotators | segments | contender | seconds | peak MB | ratio to ours |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for annotators, segments in itertools.product(args.annotators, args.segments):
        for task in ("agreement", "majority", "staple"):
            ours = None
            for (name, contender) in CONTENDERS:
                if name != task:
                    continue
                result = measure(task, contender, shape, annotators, segments)
                if "skipped" in result or "failed" in result:
                    reason = result.get("skipped") or result["failed"]
                    print(f"| {task} | {annotators} | {segments} | {contender} | {reason} | | |")
                    continue
                ours = result["seconds"] if contender == "ours" else ours
                ratio = result["seconds"] / ours if ours else float("nan")
                rows.append({"task": task, "annotators": annotators, "segments": segments, "contender": contender,
                             **result})
                print(f"| {task} | {annotators} | {segments} | {contender} | {result['seconds']:.2f} | "
                      f"{result['peak_mb']:.0f} | {ratio:.1f}x |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
