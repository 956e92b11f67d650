"""Where a case's nodes live in Slicer's subject hierarchy: one folder per case, under the series' study.

Slicer shows loaded data by patient and study (Data module, DICOM browser): its DICOM plugins
put each series under its study (``DICOMLib/DICOMPlugin.py``, ``addSeriesInSubjectHierarchy``,
which calls ``vtkSlicerSubjectHierarchyModuleLogic.InsertDicomSeriesInHierarchy``), and the TID 1500
plugin puts the markups it loads into a folder under the study (``DICOMPlugins/DICOMTID1500Plugin.py``).
A case does the same: its segmentation, its markups and the volume it loaded are children of one
folder under the study, so that closing the case removes exactly its own nodes, never another case's,
and a second case in the same scene starts from nothing.

Slicer's Subject Hierarchy module gives every new data node an item; slicer-core has no such module,
so :meth:`CaseFolder.add` creates the item when there is none. Removing a data node does not remove
its display and storage nodes in MRML itself, so they are removed here with it.
"""

from __future__ import annotations

import slicer
import vtk

from ..imaging import ReferenceSeries
from . import bridge


def case_folder(scene, series: ReferenceSeries, name: str, volume_node=None, *,
                owns_volume: bool = False) -> CaseFolder:
    """The folder of a new case on ``series``, holding its volume when the case owns it.

    :param volume_node: the series' volume when the caller loaded it (e.g. from Slicer's DICOM
        database), checked to lie on the series' grid; without it one is made from the series.
    :param owns_volume: the given volume belongs to the case and goes with it (a made one always does).
    """
    owns_volume = owns_volume or volume_node is None
    volume_node = volume_node or bridge.volume_node_from_series(scene, series)
    bridge.geometry_from_volume_node(volume_node).require_same_grid(
        series.geometry, f"Volume node '{volume_node.GetName()}'")
    folder = CaseFolder(scene, name, series, volume_node)
    if owns_volume:
        folder.add(volume_node)
    return folder


class CaseFolder:
    """A subject-hierarchy folder holding the nodes one case created, under the study of its series.

    :param volume_node: the case's volume; when no study item exists yet (the volume did not come from
        Slicer's DICOM database), the volume gets a series item and patient and study items are created
        for it, as Slicer's DICOM plugins do.
    """

    def __init__(self, scene, name: str, series: ReferenceSeries, volume_node) -> None:
        self.scene, self.volume_node = scene, volume_node
        self.hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
        self.item = self.hierarchy.CreateFolderItem(study_item(self.hierarchy, series, volume_node), name)

    def add(self, node):
        """Put a node of the case into the folder; returns the node."""
        item = self.hierarchy.GetItemByDataNode(node)
        if item == self.hierarchy.GetInvalidItemID():
            self.hierarchy.CreateItem(self.item, node)
        else:
            self.hierarchy.SetItemParent(item, self.item)
        return node

    def nodes(self) -> list:
        """The data nodes in the folder (and in folders below it)."""
        children = vtk.vtkIdList()
        self.hierarchy.GetItemChildren(self.item, children, True)
        found = (self.hierarchy.GetItemDataNode(children.GetId(n)) for n in range(children.GetNumberOfIds()))
        return [node for node in found if node is not None]

    def remove_node(self, node) -> None:
        """Remove one node of the case (e.g. a consensus replaced by a new one)."""
        remove_nodes(self.scene, [node])

    def remove(self) -> None:
        """Remove the folder with every node in it: what closing the case means for the scene."""
        remove_nodes(self.scene, self.nodes())
        if self.item != self.hierarchy.GetInvalidItemID():
            self.hierarchy.RemoveItem(self.item, False, True)
        self.item = self.hierarchy.GetInvalidItemID()


def remove_nodes(scene, nodes) -> None:
    """Remove data nodes with their subject-hierarchy items and their display and storage nodes."""
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    for node in nodes:
        companions = _companion_nodes(node)
        item = hierarchy.GetItemByDataNode(node)
        if item != hierarchy.GetInvalidItemID():
            hierarchy.RemoveItem(item, True, False)
        for present in (n for n in (node, *companions) if scene.IsNodePresent(n)):
            scene.RemoveNode(present)


def study_item(hierarchy, series: ReferenceSeries, volume_node) -> int:
    """The subject-hierarchy item of the series' study, created with its patient when it is missing."""
    uid_name = slicer.vtkMRMLSubjectHierarchyConstants.GetDICOMUIDName()
    study = hierarchy.GetItemByUID(uid_name, series.study_instance_uid)
    if study != hierarchy.GetInvalidItemID():
        return study
    header = series.datasets[0]
    patient_id = str(header.get("PatientID", "") or "") or f"Patient-{series.study_instance_uid}"
    patient_existed = hierarchy.GetItemByUID(uid_name, patient_id) != hierarchy.GetInvalidItemID()
    series_item = hierarchy.GetItemByDataNode(volume_node)
    if series_item == hierarchy.GetInvalidItemID():
        series_item = hierarchy.CreateItem(hierarchy.GetSceneItemID(), volume_node)
    hierarchy.SetItemUID(series_item, uid_name, series.series_instance_uid)
    slicer.vtkSlicerSubjectHierarchyModuleLogic.InsertDicomSeriesInHierarchy(
        hierarchy, patient_id, series.study_instance_uid, series.series_instance_uid)
    study = hierarchy.GetItemByUID(uid_name, series.study_instance_uid)
    # The items are created with placeholder names; Slicer's DICOM plugins name them after the header too.
    hierarchy.SetItemName(study, str(header.get("StudyDescription", "") or "") or "Study")
    if not patient_existed:
        hierarchy.SetItemName(hierarchy.GetItemParent(study), str(header.get("PatientName", "") or "") or patient_id)
    return study


def _companion_nodes(node) -> list:
    """The display and storage nodes of a data node (MRML does not remove them with it)."""
    companions = []
    if node.IsA("vtkMRMLDisplayableNode"):
        companions += [node.GetNthDisplayNode(n) for n in range(node.GetNumberOfDisplayNodes())]
    if node.IsA("vtkMRMLStorableNode"):
        companions += [node.GetNthStorageNode(n) for n in range(node.GetNumberOfStorageNodes())]
    return [companion for companion in companions if companion is not None]
