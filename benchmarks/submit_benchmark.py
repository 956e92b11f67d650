"""The submit path as a user feels it: ``sr export`` against the pipelines a user would assemble, and Submit.

Data: a 512x512x300 CT written as 300 DICOM files and a BINARY SEG of S ellipsoid segments
(about 5% of the voxels in all; ``sr_measurements_benchmark.make_case``). Every contender is
timed as whole processes (``/usr/bin/time`` for peak memory), from the same files:

- ``sr export``: ``dicom-annotator sr export SEG --series CT -o SR`` (volume, maximum 3D diameter,
  HU mean/min/max/standard deviation per segment, written as a TID 1500 Comprehensive 3D SR);
- (a) the same report assembled from the libraries a user would pick: the CT pixels with pydicom,
  the SEG's masks with highdicom (``get_pixels_by_source_instance``), the statistics and Feret
  diameter with SimpleITK (LabelShapeStatisticsImageFilter, LabelStatisticsImageFilter), the
  TID 1500 with highdicom (one Volumetric ROI group per segment referencing the SEG);
- (b) the same statistics in one process, then dcmqi's ``tid1500writer`` given them (two
  processes: their times add up, the peak is the larger).
  (a)'s volumes, diameters and means are checked equal to ours, or the comparison is void.
- Submit from the command line in local mode (SQLite store): ``seg export`` of the annotator's
  label map (NRRD) with a protocol of S volume structures, ``sr export`` of that SEG with the
  protocol, ``case submit CASE SEG SR``: press to the store's record, three processes.
- Submit in the MRML desk (``mrml.cases.AnnotatorDesk.submit``, what the Slicer module's Submit
  button runs, on slicer-core headless): SEG from the segmentation node, SR, store record, timed
  in the process that holds the scene (the case was opened first, as the annotator had it open).

    .venv/bin/python benchmarks/submit_benchmark.py [--segments 10 50] [--quick] [--no-mrml]

The web app's Submit does not exist yet, so it is not measured.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sr_measurements_benchmark import geometry, make_case, write_case

BENCHMARKS = Path(__file__).resolve().parent


# --------------------------------------------------------------------- pipelines (a) and (b), run as processes
def _read_ct_and_masks(folder: Path):
    """CT numbers with pydicom and the SEG's label map on the same slices with highdicom."""
    import highdicom as hd
    import pydicom

    sources = sorted((pydicom.dcmread(path) for path in (folder / "ct").iterdir()),
                     key=lambda ds: float(ds.ImagePositionPatient[2]))
    hu = np.stack([ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for ds in sources])
    seg = hd.seg.segread(folder / "seg.dcm")
    labels = seg.get_pixels_by_source_instance([ds.SOPInstanceUID for ds in sources], combine_segments=True,
                                               assert_missing_frames_are_empty=True)
    return sources, hu, np.asarray(labels), seg


def _simpleitk_statistics(hu: np.ndarray, labels: np.ndarray, sources) -> dict[int, dict[str, float]]:
    import SimpleITK as sitk

    def image(array):
        result = sitk.GetImageFromArray(array)
        first, second = (np.array(ds.ImagePositionPatient, float) for ds in sources[:2])
        result.SetOrigin(first.tolist())
        row_col = [float(v) for v in sources[0].PixelSpacing]
        result.SetSpacing([row_col[1], row_col[0], float(np.linalg.norm(second - first))])
        return result

    label_image, ct = image(labels.astype(np.uint16)), image(hu.astype(np.float32))
    shape = sitk.LabelShapeStatisticsImageFilter()
    shape.ComputeFeretDiameterOn()
    shape.Execute(label_image)
    statistics = sitk.LabelStatisticsImageFilter()
    statistics.Execute(ct, label_image)
    return {int(n): {"volume_ml": shape.GetPhysicalSize(n) / 1000, "diameter_mm": shape.GetFeretDiameter(n),
                     "mean": statistics.GetMean(n), "minimum": statistics.GetMinimum(n),
                     "maximum": statistics.GetMaximum(n), "std": statistics.GetSigma(n)}
            for n in shape.GetLabels()}


def pipeline_a(folder: Path, output: Path) -> None:
    """(a): pydicom, highdicom's SEG reader, SimpleITK, highdicom's TID 1500."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    sources, hu, labels, seg = _read_ct_and_masks(folder)
    measured = _simpleitk_statistics(hu, labels, sources)
    hounsfield = hd.sr.CodedConcept("[hnsf'U]", "UCUM", "Hounsfield unit")
    groups = []
    for number, values in measured.items():
        description = seg.get_segment_description(number)
        measurements = [
            hd.sr.Measurement(name=codes.SCT.Volume, value=values["volume_ml"],
                              unit=hd.sr.CodedConcept("ml", "UCUM", "milliliter")),
            hd.sr.Measurement(name=codes.SCT.Diameter, value=values["diameter_mm"], derivation=codes.SCT.Maximum,
                              unit=hd.sr.CodedConcept("mm", "UCUM", "millimeter"))]
        measurements += [hd.sr.Measurement(name=hd.sr.CodedConcept("112031", "DCM", "Attenuation Coefficient"),
                                           value=values[key], unit=hounsfield, derivation=derivation)
                         for key, derivation in (("mean", codes.SCT.Mean), ("minimum", codes.SCT.Minimum),
                                                 ("maximum", codes.SCT.Maximum))]
        groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=description.segment_label),
            referenced_segment=hd.sr.ReferencedSegment(
                sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID, segment_number=number,
                source_series=hd.sr.SourceSeriesForSegmentation(sources[0].SeriesInstanceUID)),
            finding_type=description.segmented_property_type, measurements=measurements))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name="Reader^A"))),
        procedure_reported=hd.sr.CodedConcept("25045-6", "LN", "CT unspecified body region"),
        imaging_measurements=groups)
    sr = hd.sr.Comprehensive3DSR(evidence=[*sources, seg], content=report, series_instance_uid=hd.UID(),
                                 series_number=2001, sop_instance_uid=hd.UID(), instance_number=1,
                                 manufacturer="benchmark", is_complete=True)
    sr.save_as(output)
    (output.with_suffix(".json")).write_text(json.dumps(measured), encoding="utf-8")


def pipeline_b_statistics(folder: Path, metadata: Path) -> None:
    """(b), first process: the same statistics, as dcmqi's tid1500writer metadata."""
    sources, hu, labels, seg = _read_ct_and_masks(folder)
    measured = _simpleitk_statistics(hu, labels, sources)

    def code(value, scheme, meaning):
        return {"CodeValue": value, "CodingSchemeDesignator": scheme, "CodeMeaning": meaning}

    hounsfield, attenuation = code("[hnsf'U]", "UCUM", "Hounsfield unit"), code("112031", "DCM",
                                                                                "Attenuation Coefficient")
    groups = []
    for number, values in measured.items():
        description = seg.get_segment_description(number)
        finding = description.segmented_property_type
        items = [{"value": str(values["volume_ml"]), "quantity": code("118565006", "SCT", "Volume"),
                  "units": code("ml", "UCUM", "milliliter")},
                 {"value": str(values["diameter_mm"]), "quantity": code("81827009", "SCT", "Diameter"),
                  "units": code("mm", "UCUM", "millimeter"),
                  "derivationModifier": code("56851009", "SCT", "Maximum")}]
        items += [{"value": str(values[key]), "quantity": attenuation, "units": hounsfield,
                   "derivationModifier": code(*derivation)}
                  for key, derivation in (("mean", ("373098007", "SCT", "Mean")),
                                          ("minimum", ("255605001", "SCT", "Minimum")),
                                          ("maximum", ("56851009", "SCT", "Maximum")))]
        groups.append({"TrackingIdentifier": description.segment_label, "ReferencedSegment": number,
                       "SourceSeriesForImageSegmentation": sources[0].SeriesInstanceUID,
                       "segmentationSOPInstanceUID": seg.SOPInstanceUID,
                       "Finding": code(finding.value, finding.scheme_designator, finding.meaning),
                       "measurementItems": items})
    metadata.write_text(json.dumps({
        "SeriesDescription": "SR", "SeriesNumber": "2001", "InstanceNumber": "1", "compositeContext": ["seg.dcm"],
        "imageLibrary": sorted(p.name for p in (folder / "ct").iterdir()),
        "observerContext": {"ObserverType": "PERSON", "PersonObserverName": "Reader^A"},
        "procedureReported": code("25045-6", "LN", "CT unspecified body region"), "VerificationFlag": "UNVERIFIED",
        "CompletionFlag": "COMPLETE", "activitySession": "1", "timePoint": "1", "Measurements": groups}),
        encoding="utf-8")


# --------------------------------------------------------------------- timing whole processes
def timed(command: list[str]) -> tuple[float, float]:
    """Seconds and peak resident MB of one process."""
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%M", *map(str, command)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode:
        raise RuntimeError(f"{Path(str(command[0])).name} failed: {result.stderr[-1500:]}")
    return seconds, int(result.stderr.strip().splitlines()[-1]) / 1024


def tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def sr_export_rows(folder: Path, segments: int) -> list[dict]:
    """``sr export`` against (a) and (b) on the case in ``folder``."""
    ours = timed([tool("dicom-annotator"), "sr", "export", folder / "seg.dcm", "--series", folder / "ct",
                  "-o", folder / "ours.dcm", "--force"])
    a = timed([sys.executable, __file__, "--pipeline-a", folder, folder / "a.dcm"])
    statistics = timed([sys.executable, __file__, "--pipeline-b", folder, folder / "b.json"])
    writer = timed([tool("tid1500writer"), "--inputMetadata", folder / "b.json", "--inputImageLibraryDirectory",
                    folder / "ct", "--inputCompositeContextDirectory", folder, "--outputDICOM", folder / "b.dcm"])
    _check_same_figures(folder / "ours.dcm", folder / "a.json")
    b = (statistics[0] + writer[0], max(statistics[1], writer[1]))
    return [{"task": "sr export", "segments": segments, "contender": name, "seconds": seconds, "peak_mb": peak,
             "ratio": seconds / ours[0]}
            for name, (seconds, peak) in (("ours (dicom-annotator sr export)", ours),
                                          ("(a) pydicom + highdicom + SimpleITK + highdicom TID 1500", a),
                                          ("(b) the same statistics + dcmqi tid1500writer", b))]


def _check_same_figures(ours: Path, theirs: Path) -> None:
    from DICOMAnnotatorLib.sr.reader import sr_summary

    expected = json.loads(theirs.read_text(encoding="utf-8"))
    found: dict[str, dict[str, float]] = {}
    for m in sr_summary(ours)["measurements"]:
        key = {"118565006": "volume_ml", "81827009": "diameter_mm"}.get(m["name"][0]) or \
            {"373098007": "mean", "255605001": "minimum", "56851009": "maximum"}.get((m["derivation"] or [""])[0])
        if key:
            found.setdefault(str(m["segment"]), {})[key] = m["value"]
    for number, values in expected.items():
        for key, value in found[number].items():
            assert abs(value - values[key]) <= 1e-6 * max(abs(values[key]), 1), (number, key, value, values[key])


# --------------------------------------------------------------------- Submit
def _protocol(folder: Path, segments: int) -> Path:
    """A protocol of ``segments`` volume structures with label values 1..S."""
    structures = [{"label": f"Structure {n}", "kind": "volume", "label_value": n, "required": False,
                   "category": {"code_value": "91723000", "coding_scheme_designator": "SCT",
                                "code_meaning": "Anatomical Structure"},
                   "type": {"code_value": f"S{n}", "coding_scheme_designator": "99BENCH",
                            "code_meaning": f"Structure {n}"},
                   "color": f"#{(37 * n) % 256:02x}{(91 * n) % 256:02x}{(151 * n) % 256:02x}"}
                  for n in range(1, segments + 1)]
    path = folder / "protocol.json"
    path.write_text(json.dumps({"id": f"bench-{segments}", "version": "1.0.0", "title": "Benchmark", "modality": "CT",
                                "body_part": "ABDOMEN",
                                "annotators_per_case": 1, "structures": structures}), encoding="utf-8")
    return path


def _store_with_case(folder: Path, protocol: Path) -> tuple[str, int]:
    from DICOMAnnotatorLib.protocols import load_protocol
    from DICOMAnnotatorLib.review.sample_project import create_sample_project

    url = f"sqlite:///{folder / 'review.db'}"
    (folder / "review.db").unlink(missing_ok=True)
    case = create_sample_project(url, "bench", load_protocol(protocol), folder / "ct", annotators=("ann",),
                                 annotators_per_case=1)
    return url, case


def cli_submit_row(folder: Path, segments: int, shape: tuple[int, int, int]) -> dict:
    """seg export + sr export + case submit, three processes, as a script or a user at a terminal runs them."""
    from DICOMAnnotatorLib.imaging import write_image

    protocol = _protocol(folder, segments)
    url, case = _store_with_case(folder, protocol)
    _, labels = make_case(shape, segments)
    write_image(labels, geometry(shape), folder / "labels.nrrd")
    command = tool("dicom-annotator")
    steps = [timed([command, "seg", "export", folder / "ct", folder / "labels.nrrd", "-o", folder / "submit-seg.dcm",
                    "--protocol", protocol, "--force"]),
             timed([command, "sr", "export", folder / "submit-seg.dcm", "--series", folder / "ct", "-o",
                    folder / "submit-sr.dcm", "--protocol", protocol, "--force"]),
             timed([command, "case", "submit", case, folder / "submit-seg.dcm", folder / "submit-sr.dcm",
                    "--user", "ann", "--store", url])]
    return {"task": "Submit (CLI: seg export + sr export + case submit)", "segments": segments,
            "contender": "ours", "seconds": sum(s for s, _ in steps), "peak_mb": max(p for _, p in steps),
            "ratio": None, "steps": [round(s, 2) for s, _ in steps]}


def mrml_submit(folder: Path, segments: int, result: Path) -> None:
    """In its own process: open the case at the MRML desk, draw the label map, then time Submit."""
    from DICOMAnnotatorLib.imaging.segmentation import Segmentation
    from DICOMAnnotatorLib.mrml import bridge
    from DICOMAnnotatorLib.mrml.cases import AnnotatorDesk

    url, _ = _store_with_case(folder, _protocol(folder, segments))
    desk = AnnotatorDesk(bridge.create_headless_scene(), url, "ann", folder / "work")
    session = desk.open_next_case("bench")
    _, labels = make_case(session.series.geometry.array_shape, segments)
    drawn = Segmentation.from_labelmap(session.series.geometry, labels, session.protocol.segment_descriptions(),
                                       reference=session.series)
    bridge.segmentation_to_node(drawn, session.scene, session.volume_node, node=session.segmentation_node)
    start = time.perf_counter()
    desk.submit()
    seconds = time.perf_counter() - start
    result.write_text(json.dumps({"seconds": seconds}), encoding="utf-8")


def mrml_submit_row(folder: Path, segments: int) -> dict:
    _, peak = timed([sys.executable, __file__, "--mrml-submit", folder, str(segments), folder / "mrml.json"])
    seconds = json.loads((folder / "mrml.json").read_text(encoding="utf-8"))["seconds"]
    return {"task": "Submit (MRML desk: SEG + SR + store record)", "segments": segments, "contender": "ours",
            "seconds": seconds, "peak_mb": peak, "ratio": None}


# --------------------------------------------------------------------- main
def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] in ("--pipeline-a", "--pipeline-b", "--mrml-submit"):
        if sys.argv[1] == "--pipeline-a":
            pipeline_a(Path(sys.argv[2]), Path(sys.argv[3]))
        elif sys.argv[1] == "--pipeline-b":
            pipeline_b_statistics(Path(sys.argv[2]), Path(sys.argv[3]))
        else:
            mrml_submit(Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--quick", action="store_true", help="256x256x100 instead of 512x512x300")
    parser.add_argument("--no-mrml", action="store_true", help="leave out the MRML desk's Submit (needs slicer-core)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    shape = (100, 256, 256) if args.quick else (300, 512, 512)
    rows = []
    print("| task | segments | contender | seconds | peak MB | time ratio to ours |")
    print("| --- | --- | --- | --- | --- | --- |")
    for segments in args.segments:
        with tempfile.TemporaryDirectory(prefix="submit-benchmark-") as name:
            folder = Path(name)
            write_case(shape, segments, folder)
            found = sr_export_rows(folder, segments) + [cli_submit_row(folder, segments, shape)]
            if not args.no_mrml:
                found.append(mrml_submit_row(folder, segments))
            for row in found:
                ratio = f"{row['ratio']:.1f}x" if row["ratio"] is not None else "-"
                steps = f" ({' + '.join(map(str, row['steps']))})" if "steps" in row else ""
                print(f"| {row['task']} | {segments} | {row['contender']} | {row['seconds']:.2f}{steps} | "
                      f"{row['peak_mb']:.0f} | {ratio} |", flush=True)
            rows += found
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
