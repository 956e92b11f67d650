"""Run by dicompyler-core's own environment (.tools/dicompyler): the structures it reads from an RT
Structure Set, as JSON ``{"ROI number": {"name", "contours"}}`` (contours: every planar contour it lists)."""

import json
import sys

from dicompylercore import dicomparser

parser = dicomparser.DicomParser(sys.argv[1])
structures = {}
for number, structure in parser.GetStructures().items():
    planes = parser.GetStructureCoordinates(number)
    structures[str(number)] = {"name": structure["name"], "contours": sum(len(plane) for plane in planes.values())}
print(json.dumps(structures))
