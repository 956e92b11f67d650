"""De-identification on a Dask cluster (``--scheduler``) writes exactly the files a local run writes."""

from __future__ import annotations

import json

from canary_study import write_canary_study
from conftest import in_process_cli, tree_bytes
from deid_support import KEY
from DICOMAnnotatorLib.imaging import phantoms

pytest_plugins = ["cluster_fixtures"]


def test_a_cluster_run_writes_the_same_bytes_as_a_local_run(dask_scheduler, tmp_path, capsys):
    source = tmp_path / "in"
    write_canary_study(source / "canary")
    for number in range(3):
        geometry = phantoms.phantom_geometry(size=(24, 16, 6))
        hu, _ = phantoms.phantom_volume(geometry)
        phantoms.write_datasets(phantoms.ct_datasets(geometry, hu, patient_id=f"PATIENT-{number}"),
                                source / f"ct{number}")
    (tmp_path / "key").write_text(KEY)
    invoke = in_process_cli(capsys)
    options = ["--key-file", tmp_path / "key", "--pixels", "flag", "--shift-dates", "--json"]
    local_status, local_out, _ = invoke("deidentify", source, tmp_path / "local", "--jobs", "1", *options)
    cluster_status, cluster_out, _ = invoke("deidentify", source, tmp_path / "cluster", "--scheduler", dask_scheduler,
                                            *options)
    assert local_status == cluster_status
    local, cluster = json.loads(local_out), json.loads(cluster_out)
    for summary in (local["summary"], cluster["summary"]):
        summary.pop("seconds")
    assert local == cluster and local["summary"]["written"] > 20
    written = tree_bytes(tmp_path / "local")
    assert written and tree_bytes(tmp_path / "cluster") == written
