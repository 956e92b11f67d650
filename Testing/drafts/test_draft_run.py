"""``draft run CASE --bundle DIR``: a tiny network trained here on phantoms, saved as a MONAI bundle (checkpoint +
inference config, or TorchScript), runs on the case's series on the CPU; its draft lands in the store, equal voxel
for voxel to the network applied independently, and the corrections recorded at submission equal an independent
computation. Nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import CI
from DICOMAnnotatorLib.imaging import write_image
from DICOMAnnotatorLib.seg import read_seg
from draft_support import independent_figures, monai_metadata, phantom_series, write_protocol

pytest_plugins = ["review_fixtures"]

if CI:  # the test extra installs PyTorch (CPU) and MONAI: missing under CI is a failure, not a skip
    import monai  # noqa: F401
    import torch
else:
    torch = pytest.importorskip("torch")
    pytest.importorskip("monai")

#: The intensity window of the bundle's preprocessing (HU to [0, 1]).
WINDOW = (0.0, 100.0)
NETWORK = {"_target_": "UNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 2, "channels": [4, 8],
           "strides": [2], "num_res_units": 0}


def _inference_config() -> dict:
    """An inference config the way MONAI's model zoo writes them: load, reorient to RAS, scale; a plain inferer;
    softmax, invert the preprocessing, argmax, save."""
    return {
        "imports": ["$import glob", "$import os"],
        "bundle_root": ".", "output_dir": "$@bundle_root + '/eval'", "dataset_dir": "/workspace/data",
        "datalist": "$list(sorted(glob.glob(@dataset_dir + '/*.nii.gz')))",
        "device": "$torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')",
        "network_def": NETWORK, "network": "$@network_def.to(@device)",
        "preprocessing": {"_target_": "Compose", "transforms": [
            {"_target_": "LoadImaged", "keys": "image"},
            {"_target_": "EnsureChannelFirstd", "keys": "image"},
            {"_target_": "Orientationd", "keys": "image", "axcodes": "RAS"},
            {"_target_": "ScaleIntensityRanged", "keys": "image", "a_min": WINDOW[0], "a_max": WINDOW[1],
             "b_min": 0.0, "b_max": 1.0, "clip": True},
            {"_target_": "EnsureTyped", "keys": "image"}]},
        "inferer": {"_target_": "SimpleInferer"},
        "postprocessing": {"_target_": "Compose", "transforms": [
            {"_target_": "Activationsd", "keys": "pred", "softmax": True},
            {"_target_": "Invertd", "keys": "pred", "transform": "@preprocessing", "orig_keys": "image",
             "nearest_interp": False, "to_tensor": True},
            {"_target_": "AsDiscreted", "keys": "pred", "argmax": True},
            {"_target_": "SaveImaged", "keys": "pred", "output_dir": "@output_dir", "resample": False,
             "squeeze_end_dims": True}]},
    }


def _ras(volume_kji: np.ndarray) -> np.ndarray:
    """A volume ``[k, j, i]`` of an axial LPS series as MONAI sees it after Orientationd RAS: ``[i, j, k]`` with
    i (L to R) and j (P to A) reversed."""
    return np.ascontiguousarray(volume_kji.transpose(2, 1, 0)[::-1, ::-1, :])


def _scaled(hu: np.ndarray) -> np.ndarray:
    return np.clip((hu.astype(np.float32) - WINDOW[0]) / np.float32(WINDOW[1] - WINDOW[0]), 0, 1).astype(np.float32)


def _train(folder: Path):
    """A tiny UNet taught the liver (lesion included) on two phantoms, in about a hundred steps."""
    from monai.networks.nets import UNet

    torch.manual_seed(0)
    network = UNet(**{k: v for k, v in NETWORK.items() if k != "_target_"})
    inputs, targets = [], []
    for n, size in enumerate(((32, 24, 8), (24, 32, 8))):
        _, hu, labels = phantom_series(folder / f"training-{n}", size=size)
        inputs.append(torch.from_numpy(_ras(_scaled(hu)))[None, None])
        targets.append(torch.from_numpy(_ras(np.isin(labels, (1, 2)).astype(np.int64)))[None])
    optimiser = torch.optim.Adam(network.parameters(), lr=0.02)
    loss = torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 3.0]))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tensors this small train fastest on one thread (and undisturbed by a busy machine)
    try:
        for step in range(120):
            image, target = inputs[step % 2], targets[step % 2]
            optimiser.zero_grad()
            loss(network(image), target).backward()
            optimiser.step()
    finally:
        torch.set_num_threads(threads)
    return network.eval()


def _bundle(folder: Path, network, *, torchscript: bool) -> Path:
    (folder / "models").mkdir(parents=True)
    monai_metadata(folder, {"0": "background", "1": "liver"}, name="tiny_liver_ct", version="0.0.1")
    (folder / "configs" / "inference.json").write_text(json.dumps(_inference_config(), indent=2))
    if torchscript:
        import warnings

        with warnings.catch_warnings():  # TorchScript is deprecated in favour of torch.export, but bundles ship it
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.script(network).save(str(folder / "models" / "model.ts"))
    else:
        torch.save(network.state_dict(), folder / "models" / "model.pt")
    return folder


def _independent_prediction(network, hu: np.ndarray) -> np.ndarray:
    """Softmax of the network on the scaled volume, reoriented as the bundle does and back: ``[c, k, j, i]``."""
    with torch.no_grad():
        probabilities = torch.softmax(network(torch.from_numpy(_ras(_scaled(hu)))[None, None]), dim=1)[0].numpy()
    back = probabilities[:, ::-1, ::-1, :]  # undo the RAS flips, then [c, i, j, k] -> [c, k, j, i]
    return np.ascontiguousarray(back.transpose(0, 3, 2, 1))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("training")
    network = _train(folder)
    return network, _bundle(folder / "checkpoint", network, torchscript=False), _bundle(
        folder / "torchscript", network, torchscript=True)


def test_a_bundle_trained_here_drafts_the_case_and_the_corrections_are_recorded(cli, tmp_path, trained):
    network, checkpoint_bundle, torchscript_bundle = trained
    url = f"sqlite:///{tmp_path / 'review.db'}"
    series, hu, labels = phantom_series(tmp_path / "series")
    for args in (("user", "add", "lead", "--role", "lead"),
                 ("user", "add", "ann", "--role", "annotator", "--user", "lead"),
                 ("project", "create", "abdomen", "--protocol", write_protocol(tmp_path / "protocol.json"),
                  "--user", "lead"),
                 ("case", "add", "abdomen", tmp_path / "series", "--user", "lead"),
                 ("case", "assign", "abdomen", "--user", "lead")):
        status, _, err = cli(*args, "--store", url)
        assert status == 0, err
    expected = _independent_prediction(network, hu)
    liver = expected.argmax(axis=0) == 1
    assert 0.5 < liver.sum() / np.isin(labels, (1, 2)).sum() < 2, "the tiny network did not learn the liver"

    for bundle in (checkpoint_bundle, torchscript_bundle):
        status, out, err = cli("draft", "run", "1", "--bundle", bundle, "--json", "--store", url, "--user", "lead")
        assert status == 0, err
        result = json.loads(out)
        assert (result["algorithm"], result["algorithm_version"]) == ("tiny_liver_ct", "0.0.1")
        drafted = read_seg(result["seg"], series)
        assert [d.label for d in drafted.segments] == ["Liver"]
        assert np.array_equal(drafted.mask(1), liver), bundle.name

    status, out, err = cli("draft", "run", "1", "--bundle", checkpoint_bundle, "--probabilities", "--json",
                           "--algorithm-version", "0.0.1-probabilities", "--store", url, "--user", "lead")
    assert status == 0, err
    result = json.loads(out)
    fractions = read_seg(result["seg"], series).mask(1)
    assert result["segmentation_type"] == "FRACTIONAL"
    assert np.abs(fractions - expected[1]).max() <= 0.5 / 255 + 1e-5
    assert result["uncertainty"]["mean_entropy_bits"] is not None

    # ann starts from the latest draft (the probabilities, at 0.5) and submits the truth: the corrections recorded
    # are the ones an independent computation gives.
    status, out, _ = cli("case", "show", "1", "--json", "--user", "ann", "--store", url)
    assert [d["algorithm_version"] for d in json.loads(out)["drafts"]] == ["0.0.1", "0.0.1", "0.0.1-probabilities"]
    write_image(labels.astype(np.uint8), series.geometry, tmp_path / "ann.nii.gz")
    assert cli("seg", "export", tmp_path / "series", tmp_path / "ann.nii.gz", "-o", tmp_path / "ann.dcm",
               "--protocol", tmp_path / "protocol.json")[0] == 0
    status, _, err = cli("case", "submit", "1", tmp_path / "ann.dcm", "--user", "ann", "--store", url)
    assert status == 0, err
    status, out, _ = cli("project", "status", "abdomen", "--json", "--store", url)
    (recorded,) = json.loads(out)["drafts"]["segments"]
    figures = independent_figures(fractions >= 0.5, labels == 1, tuple(reversed(series.geometry.spacing)))
    assert recorded["segment"] == "Liver" and recorded["mean_dice"] == pytest.approx(figures["dice"], abs=5e-5)
    assert recorded["mean_hd95_mm"] == pytest.approx(figures["hd95_mm"], abs=5e-5)
    assert (recorded["voxels_added"], recorded["voxels_removed"]) == (figures["voxels_added"],
                                                                      figures["voxels_removed"])


def test_a_folder_that_is_no_bundle_is_refused(cli, tmp_path):
    (tmp_path / "configs").mkdir()
    status, out, err = cli("draft", "run", "1", "--bundle", tmp_path, "--store", f"sqlite:///{tmp_path / 'r.db'}",
                           "--user", "lead")
    assert status == 1 and out == "" and "is not a MONAI bundle: configs/metadata.json is missing" in err
