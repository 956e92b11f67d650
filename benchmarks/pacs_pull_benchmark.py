"""DICOMweb pull of a 300-slice CT: `dicom-annotator pacs pull` versus dicomweb-client used plainly.

    sudo .venv/bin/python benchmarks/pacs_pull_benchmark.py [--slices 300] [--size 512] [--repeat 3]

A real Orthanc (Debian orthanc + orthanc-dicomweb) runs in a network namespace of its own (root is
needed to make it: Testing/orthanc_server.py), holding one generated CT series. Contenders, each a
new process in that namespace writing every instance into a fresh folder: ours (WADO-RS of the series
streamed part by part, each Part 10 file written as received) and two plain dicomweb-client scripts,
``retrieve_study`` then ``save_as`` per data set, and the streaming ``iter_study``. The figure is the
wall time of the whole process (start-up included), best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Testing"))

PLAIN = """
import sys, requests
from pathlib import Path
from dicomweb_client import DICOMwebClient
url, study, out, user, password, mode = sys.argv[1:7]
session = requests.Session(); session.auth = (user, password)
client = DICOMwebClient(url, session=session)
out = Path(out); out.mkdir(parents=True)
datasets = client.retrieve_study(study) if mode == "retrieve" else client.iter_study(study)
for ds in datasets:
    ds.save_as(out / f"{ds.SOPInstanceUID}.dcm")
"""


def main() -> None:
    from orthanc_server import PASSWORD, USER, NetworkNamespace, Orthanc, find_dicomweb_plugin, find_orthanc

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from DICOMAnnotatorLib.imaging import ct_datasets, phantom_geometry, phantom_volume, write_datasets

    work = Path(tempfile.mkdtemp(prefix="pacs-pull-"))
    namespace = NetworkNamespace()
    orthanc = Orthanc(namespace, work / "orthanc", program=find_orthanc(), plugin=find_dicomweb_plugin()).start()
    try:
        geometry = phantom_geometry(size=(args.size, args.size, args.slices))
        hu, _ = phantom_volume(geometry)
        datasets = ct_datasets(geometry, hu)
        write_datasets(datasets, work / "series")
        credentials = orthanc.credentials_file(work)
        command = str(Path(sys.executable).with_name("dicom-annotator"))
        pushed = namespace.run([command, "pacs", "push", orthanc.url, work / "series", "--credentials", credentials])
        assert pushed.returncode == 0, pushed.stderr
        study = str(datasets[0].StudyInstanceUID)
        contenders = {
            "ours (dicom-annotator pacs pull)": lambda out: [command, "pacs", "pull", orthanc.url, "--study", study,
                                                             "-o", out, "--credentials", credentials],
            "dicomweb-client retrieve_study + save_as": lambda out: [sys.executable, "-c", PLAIN, orthanc.url, study,
                                                                     out, USER, PASSWORD, "retrieve"],
            "dicomweb-client iter_study + save_as": lambda out: [sys.executable, "-c", PLAIN, orthanc.url, study, out,
                                                                 USER, PASSWORD, "iter"],
        }
        best: dict[str, float] = {}
        for _ in range(args.repeat):
            for name, make in contenders.items():
                out = work / "out"
                shutil.rmtree(out, ignore_errors=True)
                started = time.perf_counter()
                result = namespace.run([str(a) for a in make(out)], timeout=1200)
                seconds = time.perf_counter() - started
                assert result.returncode == 0, (name, result.stderr[-2000:])
                assert len(list(out.rglob("*.dcm"))) == args.slices, name
                best[name] = min(best.get(name, seconds), seconds)
        ours = best["ours (dicom-annotator pacs pull)"]
        size_mb = sum(p.stat().st_size for p in (work / "series").iterdir()) / 2**20
        print(f"{args.slices} slices of {args.size}x{args.size} ({size_mb:.0f} MB), best of {args.repeat}")
        print("| contender | seconds | time ratio to ours |")
        print("| --- | --- | --- |")
        for name, seconds in best.items():
            print(f"| {name} | {seconds:.2f} | {seconds / ours:.2f}x |")
    finally:
        orthanc.stop()
        namespace.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
