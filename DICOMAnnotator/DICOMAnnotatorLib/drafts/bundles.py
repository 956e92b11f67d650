"""Running a MONAI bundle on a case's series, on the CPU, to make its AI draft.

A bundle (MONAI's model package) is a folder: ``configs/metadata.json`` (name, version, and in
``network_data_format`` what each output channel is), ``configs/inference.json`` (or ``.yaml``: the
network, ``preprocessing``, ``inferer`` and ``postprocessing``) and ``models/model.pt`` (the weights, a
checkpoint of the config's ``network_def``) or ``models/model.ts`` (the network as TorchScript).

The bundle's own pieces run as its inference config describes them, on the series written as NIfTI:
preprocessing, the inferer (e.g. a sliding window), then postprocessing without its writers
(``SaveImage``), so the prediction comes back here; with ``probabilities`` it stops before the argmax
(``AsDiscrete``), keeping the softmax for the uncertainty order. The prediction must be back on the series
grid (bundles invert their resampling with ``Invertd``); it is written as a label map or as a 4D
probability NIfTI, which ``draft import`` then takes with the bundle's metadata as its label table.

A bundle's config can run any Python (``$`` expressions): run only bundles you trust. Checkpoints are
loaded with ``weights_only``, so a ``model.pt`` alone runs no code. PyTorch and MONAI are optional
(``pip install 'dicom-annotator[ai]'``); nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, MissingDependencyError
from ..imaging import ReferenceSeries, VolumeGeometry, write_image
from .label_tables import LabelTable, read_label_table

#: LPS (DICOM, this program) to RAS (MONAI's default space, NIfTI's): the first two axes flip.
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
_INSTALL = "pip install 'dicom-annotator[ai]' (PyTorch and MONAI, run on the CPU)"


@dataclass(frozen=True)
class Bundle:
    """A MONAI bundle folder: its name and version (from its metadata), labels, inference config and weights."""

    root: Path
    name: str
    version: str
    labels: LabelTable
    config: Path
    weights: Path

    @property
    def metadata(self) -> Path:
        return self.root / "configs" / "metadata.json"

    @property
    def is_torchscript(self) -> bool:
        return self.weights.suffix == ".ts"


def read_bundle(root: str | os.PathLike[str]) -> Bundle:
    """The bundle in folder ``root``, refused with what is missing."""
    root = Path(root)
    metadata = root / "configs" / "metadata.json"
    if not metadata.is_file():
        raise InputError(f"{root} is not a MONAI bundle: configs/metadata.json is missing")
    try:
        meta = json.loads(metadata.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"Cannot read {metadata}: {error}") from None
    configs = [root / "configs" / f"inference.{suffix}" for suffix in ("json", "yaml", "yml")]
    config = next((path for path in configs if path.is_file()), None)
    if config is None:
        raise InputError(f"{root} has no configs/inference.json (or .yaml) saying how to run the model")
    checkpoint, torchscript = root / "models" / "model.pt", root / "models" / "model.ts"
    weights = checkpoint if checkpoint.is_file() else torchscript if torchscript.is_file() else None
    if weights is None:
        raise InputError(f"{root} has no models/model.pt (checkpoint) nor models/model.ts (TorchScript)")
    return Bundle(root, str(meta.get("name") or root.name), str(meta.get("version") or "unknown"),
                  read_label_table(metadata), config, weights)


def run_bundle(bundle: Bundle, series: ReferenceSeries, output: str | os.PathLike[str], *,
               probabilities: bool = False) -> Path:
    """Run ``bundle`` on ``series`` (CPU); write its prediction on the series grid to ``output`` (.nii.gz)."""
    torch, monai = _require_monai()
    output = Path(output)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MONAI's deprecation and optional-codec notices say nothing to the user
        image = output.with_name(f"{output.name}.image.nii.gz")
        write_image(series.read_voxels(), series.geometry, image, force=True)
        try:
            prediction = _predict(torch, monai, bundle, image, probabilities)
        except (InputError, MissingDependencyError):
            raise
        except Exception as error:  # the bundle's own code failed: say where, without a traceback
            raise InputError(f"The MONAI bundle {bundle.root} failed on the series ({type(error).__name__}: "
                             f"{str(error)[:300]}); check that its inference config runs on this kind of "
                             "image") from None
        finally:
            image.unlink(missing_ok=True)
    voxels = _on_series_grid(prediction, series.geometry, bundle)
    if probabilities:
        return write_image(voxels.astype(np.float32), series.geometry, output, force=True, channels=True)
    top = int(voxels.max()) if voxels.size else 0
    return write_image(voxels[0].astype(np.uint8 if top < 256 else np.uint16), series.geometry, output, force=True)


def _require_monai():
    try:
        import monai
        import torch
    except ImportError as error:
        raise MissingDependencyError(error.name or "monai", "Running a MONAI bundle (draft run)", _INSTALL) from None
    return torch, monai


def _predict(torch, monai, bundle: Bundle, image: Path, probabilities: bool) -> Any:
    """The bundle's prediction for ``image``: a MetaTensor ``[channels, i, j, k]`` with its affine."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(bundle.config))
    parser.read_meta(str(bundle.metadata))
    parser["bundle_root"] = str(bundle.root)
    parser["device"] = "$torch.device('cpu')"
    network = _network(torch, parser, bundle)
    preprocessing = parser.get_parsed_content("preprocessing") if "preprocessing" in parser else None
    if preprocessing is None:
        raise InputError(f"{bundle.config} has no 'preprocessing'; a bundle's inference config says how to load and "
                         "prepare its input")
    item = preprocessing({"image": str(image)})
    inferer = (parser.get_parsed_content("inferer") if "inferer" in parser
               else monai.inferers.SimpleInferer())
    with torch.no_grad():
        item["pred"] = inferer(item["image"][None].to("cpu"), network)[0]
    post = parser.get_parsed_content("postprocessing") if "postprocessing" in parser else None
    steps = _kept_steps(monai, post, probabilities)
    for step in steps:
        item = step(item)
    prediction = item["pred"]
    if not probabilities and prediction.shape[0] > 1:  # a config without its own argmax
        prediction = prediction.argmax(dim=0, keepdim=True)
    return prediction


def _network(torch, parser, bundle: Bundle):
    if bundle.is_torchscript:
        network = torch.jit.load(str(bundle.weights), map_location="cpu")
    else:
        if "network_def" not in parser:
            raise InputError(f"{bundle.config} has no 'network_def' for the checkpoint {bundle.weights}")
        network = parser.get_parsed_content("network_def")
        state = torch.load(str(bundle.weights), map_location="cpu", weights_only=True)
        if isinstance(state, dict) and isinstance(state.get("model"), dict):  # a trainer's checkpoint
            state = state["model"]
        network.load_state_dict(state)
    return network.to("cpu").eval()


def _kept_steps(monai, post, probabilities: bool) -> list:
    """The postprocessing transforms, without writers, and with ``probabilities`` without the argmax and after."""
    if post is None:
        return []
    transforms = list(post.transforms) if hasattr(post, "transforms") else [post]
    writers = (monai.transforms.SaveImage, monai.transforms.SaveImaged)
    argmax = (monai.transforms.AsDiscrete, monai.transforms.AsDiscreted)
    kept = []
    for transform in transforms:
        if probabilities and isinstance(transform, argmax):
            break
        if not isinstance(transform, writers):
            kept.append(transform)
    return kept


def _on_series_grid(prediction, geometry: VolumeGeometry, bundle: Bundle) -> np.ndarray:
    """The prediction as ``[channel, k, j, i]``, after checking its affine is the series' (in RAS or LPS)."""
    array = prediction.detach().cpu().numpy() if hasattr(prediction, "detach") else np.asarray(prediction)
    affine = np.asarray(getattr(prediction, "affine", np.eye(4)), dtype=np.float64)
    space = str(getattr(prediction, "meta", {}).get("space", "RAS")).upper()
    lps = _LPS_TO_RAS @ affine if space.endswith("RAS") else affine
    expected_shape = (geometry.size[0], geometry.size[1], geometry.size[2])
    corners = np.array([[i, j, k, 1.0] for i in (0, geometry.size[0] - 1) for j in (0, geometry.size[1] - 1)
                        for k in (0, geometry.size[2] - 1)])
    if (array.ndim != 4 or tuple(array.shape[1:]) != expected_shape
            or np.abs(corners @ lps.T - corners @ np.asarray(geometry.affine).T).max() > 1e-3):
        raise InputError(f"The MONAI bundle {bundle.root} predicted on another grid ({list(array.shape[1:])} voxels) "
                         f"than the series ({list(expected_shape)}); its postprocessing must bring the prediction back "
                         "onto the input image (Invertd)")
    return np.ascontiguousarray(array.transpose(0, 3, 2, 1))
