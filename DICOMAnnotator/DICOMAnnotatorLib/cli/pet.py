"""``dicom-annotator pet suv``: the factor from a PET series' Bq/ml to body-weight SUV."""

from __future__ import annotations

import argparse

from .series import add_json_argument, add_series_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    pet = subparsers.add_parser("pet", help="PET quantities")
    commands = pet.add_subparsers(dest="pet_command", metavar="SUBCOMMAND")
    commands.required = True
    suv = commands.add_parser(
        "suv", help="the SUVbw factor of a PET series (Bq/ml to g/ml) with the inputs it came from",
        description="SUVbw = value (Bq/ml) x weight (g) / injected dose (Bq) decayed to the time the values are "
                    "decay-corrected to (PS3.3 C.8.9.1, C.8.9.2; the QIBA vendor-neutral rules). Units other "
                    "than BQML, a missing injection time, a dose or weight of 0 are refused.")
    add_series_arguments(suv)
    add_json_argument(suv, '{"suv_type": "bw", "factor", "units": "g/ml", "injected_dose_bq", "patient_weight_kg", '
                           '"half_life_s", "injection_time", "decay_correction": START|ADMIN|NONE, '
                           '"decay_corrected_to" (ISO date-time; null for NONE), "factors" (one per slice, '
                           'NONE only)}')
    suv.set_defaults(func=_suv)


def _suv(args: argparse.Namespace) -> int:
    from ..imaging import pet_suv_scale
    from .output import emit

    scale = pet_suv_scale(args.series, series_uid=args.series_uid)
    if scale.factor is not None:
        factor = f"{scale.factor:.6g} g/ml per Bq/ml"
    else:
        factor = f"{min(scale.factors):.6g} to {max(scale.factors):.6g} g/ml per Bq/ml, one per slice"
    corrected = scale.decay_corrected_to.isoformat() if scale.decay_corrected_to else "each image's acquisition"
    emit(args.json, scale.to_json(),
         f"SUVbw factor: {factor}\n"
         f"  dose {scale.injected_dose_bq / 1e6:.6g} MBq injected {scale.injection_time.isoformat()}, "
         f"half life {scale.half_life_s:g} s, weight {scale.patient_weight_kg:g} kg\n"
         f"  decay correction {scale.decay_correction}: dose decayed to {corrected}")
    return 0
