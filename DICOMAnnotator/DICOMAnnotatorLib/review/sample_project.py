"""A ready project with one case and its team, for the demo and the modules' self-tests.

The demo, the Slicer modules' Test classes and the MRML flow tests all start from the same
situation: a lead, annotators, a reviewer and a radiologist, a project on a protocol, one case
(a series folder) assigned. This builds it in a store through the ordinary workflow calls, so
the audit log records it like any other project.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..imaging import open_images
from ..protocols import Protocol
from .assignment import assign_cases
from .cases import SeriesRef, add_cases
from .projects import create_project
from .store import ReviewStore
from .users import add_user

LEAD = "lead"


def create_sample_project(url: str, project: str, protocol: Protocol, series_folder: str | os.PathLike[str], *,
                          annotators: Sequence[str] = ("ann", "ben"), reviewer: str = "rev",
                          radiologist: str = "rad", annotators_per_case: int | None = None) -> int:
    """Users (``lead`` and the names given), the project, one case of ``series_folder`` (a volume, or 2D images
    and cine loops) assigned; its case id."""
    series = open_images(series_folder)
    with ReviewStore(url) as store:
        add_user(store, LEAD, ["lead"], actor=None)
        for name in annotators:
            add_user(store, name, ["annotator"], actor=LEAD)
        add_user(store, reviewer, ["reviewer"], actor=LEAD)
        add_user(store, radiologist, ["radiologist"], actor=LEAD)
        create_project(store, project, protocol, actor=LEAD,
                       annotators_per_case=annotators_per_case if annotators_per_case else len(annotators))
        (case,) = add_cases(store, project, [SeriesRef(series.study_instance_uid, series.series_instance_uid,
                                                       series.modality, str(series_folder))], actor=LEAD)
        assign_cases(store, project, actor=LEAD)
    return case
