"""Surface models of segments (STL, OBJ with colours) in patient coordinates, for surgical planning.

Each segment is meshed with marching cubes on its mask padded by one empty voxel, so the
surface of a solid is closed even where it touches the edge of the scan, then smoothed
with Taubin's lambda/mu filter (which, unlike plain Laplacian smoothing, does not shrink the
model) and placed in patient LPS millimetres through the series affine. STL files say
``SPACE=LPS`` in their header, as Slicer's do.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from ..atomic import atomic_path
from ..errors import MissingDependencyError
from ..imaging import Segmentation, SegmentDescription


@dataclass(frozen=True)
class SurfaceMesh:
    """A triangle mesh: vertices (N x 3, LPS mm) and faces (M x 3 vertex indices, outward winding)."""

    vertices: np.ndarray
    faces: np.ndarray

    @property
    def signed_volume_mm3(self) -> float:
        """Enclosed volume by the divergence theorem: positive when the faces wind outward."""
        a, b, c = (self.vertices[self.faces[:, n]] for n in range(3))
        return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)

    def face_normals(self) -> np.ndarray:
        a, b, c = (self.vertices[self.faces[:, n]] for n in range(3))
        normals = np.cross(b - a, c - a)
        lengths = np.linalg.norm(normals, axis=1, keepdims=True)
        return normals / np.where(lengths == 0, 1, lengths)


def segment_mesh(segmentation: Segmentation, number: int, *, smoothing_iterations: int = 15) -> SurfaceMesh | None:
    """The smoothed surface of one segment in LPS mm, or None when the segment is empty."""
    try:
        from skimage.measure import marching_cubes
    except ImportError as exc:  # optional dependency of one feature
        raise MissingDependencyError("scikit-image", "Surface model export") from exc
    box, values = segmentation.cropped_mask(number)
    if values.size == 0 or not values.any():
        return None
    mask = np.pad(values >= 0.5 if values.dtype != bool else values, 1).astype(np.float32)
    vertices_kji, faces, _normals, _values = marching_cubes(mask, level=0.5, allow_degenerate=False)
    vertices_kji += np.array([s.start for s in box], dtype=float) - 1.0  # back to grid indices
    vertices_kji = taubin_smooth(vertices_kji, faces, iterations=smoothing_iterations)
    vertices = segmentation.geometry.index_to_lps(vertices_kji[:, ::-1])
    mesh = SurfaceMesh(vertices, faces.astype(np.int64))
    if mesh.signed_volume_mm3 < 0:  # the index-to-patient transform may mirror: keep normals outward
        mesh = SurfaceMesh(vertices, faces[:, ::-1].astype(np.int64))
    return mesh


def taubin_smooth(vertices: np.ndarray, faces: np.ndarray, *, iterations: int = 15,
                  lam: float = 0.5, mu: float = -0.53) -> np.ndarray:
    """Taubin smoothing: alternate shrinking (lambda) and inflating (mu) Laplacian steps."""
    count = len(vertices)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.concatenate([edges, edges[:, ::-1]])
    adjacency = sparse.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(count, count)).tocsr()
    adjacency.data[:] = 1.0  # duplicate edges count once
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    average = sparse.diags(1.0 / np.where(degree == 0, 1, degree)) @ adjacency
    smoothed = vertices.astype(float, copy=True)
    for _ in range(iterations):
        for factor in (lam, mu):
            smoothed = smoothed + factor * (average @ smoothed - smoothed)
    return smoothed


def write_stl(mesh: SurfaceMesh, path: str | os.PathLike[str], *, name: str, force: bool = False) -> Path:
    """Binary STL in LPS millimetres."""
    record = np.dtype([("normal", "<f4", 3), ("vertices", "<f4", (3, 3)), ("attribute", "<u2")])
    triangles = np.zeros(len(mesh.faces), dtype=record)
    triangles["normal"] = mesh.face_normals()
    triangles["vertices"] = mesh.vertices[mesh.faces]
    header = f"SPACE=LPS DICOMAnnotator {name}".encode("ascii", "replace")[:80].ljust(80, b" ")
    with atomic_path(path, force=force) as temporary:
        with open(temporary, "wb") as stream:
            stream.write(header)
            stream.write(np.uint32(len(triangles)).tobytes())
            stream.write(triangles.tobytes())
    return Path(path)


def write_obj(mesh: SurfaceMesh, path: str | os.PathLike[str], description: SegmentDescription, *,
              force: bool = False) -> Path:
    """Wavefront OBJ in LPS millimetres with the segment's colour in a material file beside it."""
    path = Path(path)
    material_path = path.with_suffix(".mtl")
    material = _safe_name(description.label)
    red, green, blue = (c / 255.0 for c in description.color)
    with atomic_path(material_path, force=force) as temporary:
        temporary.write_text(f"# DICOMAnnotator segment {description.number}: {description.label}\n"
                             f"newmtl {material}\nKd {red:.4f} {green:.4f} {blue:.4f}\nKa 0 0 0\nd 1.0\n",
                             encoding="utf-8")
    lines = [f"# DICOMAnnotator segment {description.number}: {description.label} (LPS, mm)",
             f"mtllib {material_path.name}", f"o {material}", f"usemtl {material}"]
    with atomic_path(path, force=force) as temporary:
        with open(temporary, "w", encoding="utf-8") as stream:
            stream.write("\n".join(lines) + "\n")
            np.savetxt(stream, mesh.vertices, fmt="v %.4f %.4f %.4f")
            np.savetxt(stream, mesh.faces + 1, fmt="f %d %d %d")
    return path


def export_models(segmentation: Segmentation, folder: str | os.PathLike[str], *, file_format: str = "stl",
                  force: bool = False) -> list[Path]:
    """One surface file per non-empty segment, named ``NN-label.stl`` (or ``.obj`` + ``.mtl``)."""
    if file_format not in ("stl", "obj"):
        raise ValueError(f"Unknown model format {file_format!r}; use stl or obj")
    written = []
    with atomic_path(folder, force=force, directory=True) as work:
        for description in segmentation.segments:
            mesh = segment_mesh(segmentation, description.number)
            if mesh is None:
                continue
            stem = f"{description.number:02d}-{_safe_name(description.label)}"
            if file_format == "stl":
                write_stl(mesh, work / f"{stem}.stl", name=description.label)
            else:
                write_obj(mesh, work / f"{stem}.obj", description)
            written.append(Path(folder) / f"{stem}.{file_format}")
    return written


def _safe_name(label: str) -> str:
    """A file-name-safe form of a segment label."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or "segment"
