"""``dicom-annotator pet suv``: the factor from a PET series' Bq/ml to body-weight SUV, and the SUV statistics
of a SEG drawn on another series of the same frame of reference (the CT of a PET/CT)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .series import add_json_argument, add_series_arguments

if TYPE_CHECKING:
    from ..imaging import ReferenceSeries, Segmentation, UptakeStatistics


def register(subparsers: argparse._SubParsersAction) -> None:
    pet = subparsers.add_parser("pet", help="PET quantities")
    commands = pet.add_subparsers(dest="pet_command", metavar="SUBCOMMAND")
    commands.required = True
    suv = commands.add_parser(
        "suv", help="the SUV factor of a PET series (Bq/ml to g/ml) with the inputs it came from",
        description="SUVbw = value (Bq/ml) x weight (g) / injected dose (Bq) decayed to the time the values are "
                    "decay-corrected to (PS3.3 C.8.9.1, C.8.9.2; the QIBA vendor-neutral rules). Units other "
                    "than BQML (or Philips' CNTS with its Activity Concentration or SUV Scale Factor, (7053,1009) "
                    "or (7053,1000)), a missing injection time, a dose or weight of 0 are refused. SUVlbm uses "
                    "Janmahasatian's lean body mass (Patient's Weight, Size and Sex), SUVbsa Du Bois's body "
                    "surface area (Weight and Size).")
    add_series_arguments(suv)
    suv.add_argument("--type", dest="suv_type", choices=("bw", "lbm", "bsa"), default="bw",
                     help="normalise by body weight (default), lean body mass or body surface area")
    suv.add_argument("--seg", metavar="SEG", help="also measure this SEG's segments on the PET: SUVmax, SUVmean, "
                                                  "SUVpeak (1 cm^3 sphere), MTV and TLG")
    suv.add_argument("--seg-series", nargs="+", metavar="SERIES",
                     help="the series the SEG was drawn on (e.g. the CT), in the PET's frame of reference")
    suv.add_argument("--sr", metavar="OUT.dcm", help="with --seg: also write the statistics into a TID 1500 SR on "
                                                     "the SEG (with the segments' volumes and diameters)")
    add_json_argument(suv, '{"suv_type": bw|lbm|bsa, "factor", "units": g/ml|cm2/ml, "injected_dose_bq", '
                           '"patient_weight_kg", "half_life_s", "injection_time", "decay_correction": '
                           'START|ADMIN|NONE, "decay_corrected_to" (ISO date-time; null for NONE), "factors" (one '
                           'per slice, NONE only), lbm: "patient_size_m", "patient_sex", "lean_body_mass_kg", bsa: '
                           '"patient_size_m", "body_surface_area_m2", CNTS: "source_units", "counts_conversion": '
                           'activity_concentration|suv, "counts_scale" (one, or one per slice), with --seg '
                           '"segments": [{"number", "label", '
                           '"suv_max", "suv_mean", "suv_peak", "mtv_ml", "tlg_g"}]}')
    suv.set_defaults(func=_suv)


def _suv(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..imaging import ReferenceSeries, pet_suv_scale, series_suv_scale, uptake_statistics
    from .output import emit

    if (args.seg is None) != (args.seg_series is None):
        raise InputError("--seg and --seg-series go together: the SEG and the series it was drawn on")
    if args.sr is not None:
        from ..atomic import check_output

        if args.seg is None:
            raise InputError("--sr writes the statistics of a SEG: give --seg and --seg-series too")
        check_output(args.sr, force=False)  # fail before the slow part
    scale = pet_suv_scale(args.series, series_uid=args.series_uid, suv_type=args.suv_type)
    payload = scale.to_json()
    lines = []
    if args.seg is not None:
        from ..seg import read_seg

        pet = ReferenceSeries.from_paths(args.series, series_uid=args.series_uid)
        drawn_on = ReferenceSeries.from_paths(args.seg_series)
        segmentation = read_seg(args.seg, drawn_on)
        statistics = uptake_statistics(segmentation, pet, series_suv_scale(pet, args.suv_type))
        payload["segments"] = [s.to_json() for s in statistics]
        if args.sr is not None:
            _write_sr(args.seg, segmentation, drawn_on, pet, statistics, args.sr)
        lines = [f"  {s.number:>3}  {s.label:<24} " + (
            f"SUVmax {s.suv_max:.3f}  SUVmean {s.suv_mean:.3f}  SUVpeak {s.suv_peak:.3f}  "
            if s.suv_max is not None else "no PET voxel  ") + f"MTV {s.mtv_ml:.3f} ml  TLG {s.tlg_g:.3f} g"
            for s in statistics]
    per = "count" if scale.source_units == "CNTS" else "Bq/ml"
    if scale.factor is not None:
        factor = f"{scale.factor:.6g} {scale.units} per {per}"
    else:
        factor = f"{min(scale.factors):.6g} to {max(scale.factors):.6g} {scale.units} per {per}, one per slice"
    if scale.counts_conversion is not None:
        factor += f" (counts by Philips' {scale.counts_conversion.replace('_', ' ')} scale factor)"
    corrected = scale.decay_corrected_to.isoformat() if scale.decay_corrected_to else "each image's acquisition"
    emit(args.json, payload, "\n".join([
        f"SUV{scale.suv_type} factor: {factor}",
        f"  dose {scale.injected_dose_bq / 1e6:.6g} MBq injected {scale.injection_time.isoformat()}, "
        f"half life {scale.half_life_s:g} s, weight {scale.patient_weight_kg:g} kg",
        f"  decay correction {scale.decay_correction}: dose decayed to {corrected}", *lines]))
    return 0


def _write_sr(seg_path: str, segmentation: Segmentation, drawn_on: ReferenceSeries, pet: ReferenceSeries,
              statistics: Sequence[UptakeStatistics], output: str) -> None:
    """The TID 1500 report of the SEG on the series it was drawn on, with each segment's uptake on the PET (whose
    images the report lists and names as the SUVs' sources)."""
    from ..dicom import read_header
    from ..sr import build_sr, measure_on_series, with_uptake, write_sr

    measured = with_uptake(measure_on_series(segmentation, drawn_on), statistics)
    write_sr(build_sr(segmentation, read_header(seg_path), measured, measured_series=[pet]), output)
