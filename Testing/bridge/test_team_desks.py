"""The Slicer modules' desks in team mode: real MRML (slicer-core) against a real team server process.

What the modules' Logic does when its store setting is a server URL: it signs in, the case's images
come over HTTP (checksums verified) into the work folder, the SEG + SR go back as uploads, the
reviewer's desk fetches the round's submissions, the radiologist signs with the password.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from DICOMAnnotatorLib import review
from DICOMAnnotatorLib.imaging.segmentation import Segmentation
from DICOMAnnotatorLib.mrml import bridge
from DICOMAnnotatorLib.mrml.cases import AnnotatorDesk, ReviewerDesk
from DICOMAnnotatorLib.seg.reader import read_seg
from DICOMAnnotatorLib.server import RemoteService, login
from review_support import write_series
from scipy import ndimage
from team_server import TeamServer, Workstation

pytestmark = pytest.mark.bridge

PASSWORDS = {name: f"{name}-correct horse battery" for name in ("lead", "ann", "ben", "rev", "rad")}


def _draw(session, masks):
    descriptions = [d for d in session.protocol.segment_descriptions() if d.label in masks]
    drawn = Segmentation(session.series.geometry, descriptions,
                         {d.number: masks[d.label] for d in descriptions}, reference=session.series)
    bridge.segmentation_to_node(drawn, session.scene, session.volume_node, node=session.segmentation_node)


def test_desks_annotate_review_and_sign_through_the_server(tmp_path):
    server = TeamServer(f"sqlite:///{tmp_path / 'server.db'}", tmp_path)
    server.add_first_lead("lead", PASSWORDS["lead"])
    server.start()
    try:
        lead = Workstation(tmp_path / "lead", server)
        lead.login("lead", PASSWORDS["lead"])
        for name, role in (("ann", "annotator"), ("ben", "annotator"), ("rev", "reviewer"), ("rad", "radiologist")):
            lead.ok("user", "add", name, "--role", role, "--password-stdin", stdin=PASSWORDS[name] + "\n")
        lead.ok("project", "create", "liver", "--protocol", "liver-lesions-ct")
        folder, _, labels = write_series(tmp_path / "lead" / "series")
        lead.ok("case", "add", "liver", folder)
        lead.ok("case", "assign", "liver")

        def desk(kind, name):
            service = RemoteService(server.url, token=login(server.url, name, PASSWORDS[name])["token"])
            return kind(bridge.create_headless_scene(), None, name, tmp_path / f"{name}-work", service=service)

        liver, lesion = labels == 1, labels == 2
        for name, liver_mask in (("ann", liver), ("ben", ndimage.binary_dilation(liver))):
            annotator = desk(AnnotatorDesk, name)
            session = annotator.open_next_case("liver")
            assert str(tmp_path / f"{name}-work" / "cases") in annotator.case.image_location  # fetched, not shared
            _draw(session, {"Liver": liver_mask, "Liver lesion": lesion})
            annotator.submit()

        rev = desk(ReviewerDesk, "rev")
        compare = rev.open_next_case("liver")
        assert rev.action == "consensus" and sorted(compare.names) == ["ann", "ben"]
        compare.build_consensus("majority")
        assert rev.record_consensus().state is review.CaseState.IN_REVIEW
        assert rev.approve().tier == 2

        rad = desk(ReviewerDesk, "rad")
        final = rad.open_next_case("liver")
        assert rad.approve("Good").state is review.CaseState.APPROVED
        with pytest.raises(review.PermissionDeniedError, match="password"):
            rad.sign("Approved")  # the password again, whatever the session
        signature = rad.sign("Approved as reference standard", PASSWORDS["rad"])
        shown = json.loads(lead.ok("case", "show", "1", "--json"))
        assert shown["state"] == "final" and shown["signature"]["sha256"] == signature.sha256
        merged = final.consensus().mask(1)
        assert np.array_equal(merged, read_seg(rad._files(1)[("consensus_seg", "rev", 1)], final.series).mask(1))
    finally:
        server.stop()
