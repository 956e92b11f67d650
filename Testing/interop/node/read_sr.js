#!/usr/bin/env node
// Reads a DICOM TID 1500 Measurement Report with dcmjs (the DICOM library OHIF uses) and prints
// what it found as JSON, so that the Python tests can compare it with what DICOMAnnotator wrote.
//
//   node read_sr.js SR
//
// The report is read by dcmjs.data.DicomMessage and naturalized (DicomMetaDictionary), then its
// content tree is walked: the root's title and template, the Image Library's image references,
// the evidence, and per Measurement Group of the Imaging Measurements its template, tracking
// identifier and UID, finding, referenced segment, every NUM (concept, derivation, value, unit),
// qualitative evaluation (CODE items it CONTAINS other than finding and category), SCOORD3D and SCOORD
// (with the image and frame it was selected from).
"use strict";

const fs = require("fs");
const dcmjs = require("dcmjs");

const { DicomMessage, DicomMetaDictionary } = dcmjs.data;

function list(value) {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function code(sequence) {
  const item = list(sequence)[0];
  return item ? [item.CodeValue || item.LongCodeValue || item.URNCodeValue, item.CodingSchemeDesignator,
    item.CodeMeaning] : null;
}

function named(item, value, scheme) {
  const name = code(item.ConceptNameCodeSequence);
  return name !== null && name[0] === value && name[1] === scheme;
}

function group(container) {
  const found = {
    template: list(container.ContentTemplateSequence).map((t) => t.TemplateIdentifier)[0] || null,
    trackingId: null, trackingUid: null, finding: null, segment: null, sources: 0,
    measurements: [], evaluations: [], regions: [],
  };
  for (const item of list(container.ContentSequence)) {
    if (item.ValueType === "TEXT" && named(item, "112039", "DCM")) found.trackingId = item.TextValue;
    else if (item.ValueType === "UIDREF" && named(item, "112040", "DCM")) found.trackingUid = item.UID;
    else if (item.ValueType === "CODE" && named(item, "121071", "DCM")) found.finding = code(item.ConceptCodeSequence);
    else if (item.ValueType === "CODE" && item.RelationshipType === "CONTAINS" && !named(item, "276214006", "SCT")) {
      found.evaluations.push({ name: code(item.ConceptNameCodeSequence), value: code(item.ConceptCodeSequence) });
    } else if (item.ValueType === "IMAGE" && named(item, "121191", "DCM")) {
      const reference = list(item.ReferencedSOPSequence)[0];
      found.segment = { instance: reference.ReferencedSOPInstanceUID, number: list(reference.ReferencedSegmentNumber)[0] };
    } else if (item.ValueType === "IMAGE" && named(item, "121233", "DCM")) {
      found.sources++;
    } else if (item.ValueType === "NUM") {
      const measured = list(item.MeasuredValueSequence)[0];
      const derivation = list(item.ContentSequence).find((c) => c.ValueType === "CODE" && named(c, "121401", "DCM"));
      found.measurements.push({
        name: code(item.ConceptNameCodeSequence),
        derivation: derivation ? code(derivation.ConceptCodeSequence) : null,
        value: Number(measured.FloatingPointValue !== undefined ? measured.FloatingPointValue : measured.NumericValue),
        unit: code(measured.MeasurementUnitsCodeSequence),
      });
    } else if (item.ValueType === "SCOORD3D") {
      found.regions.push({ graphicType: item.GraphicType, points: list(item.GraphicData).map(Number), dimensions: 3,
        frameOfReference: item.ReferencedFrameOfReferenceUID });
    } else if (item.ValueType === "SCOORD") {
      const image = list(item.ContentSequence).find((c) => c.ValueType === "IMAGE" && c.RelationshipType === "SELECTED FROM");
      const reference = image ? list(image.ReferencedSOPSequence)[0] : {};
      found.regions.push({ graphicType: item.GraphicType, points: list(item.GraphicData).map(Number), dimensions: 2,
        image: reference.ReferencedSOPInstanceUID || null, frame: list(reference.ReferencedFrameNumber).map(Number)[0] || null });
    }
  }
  return found;
}

function main(argv) {
  if (argv.length !== 1) {
    process.stderr.write("usage: node read_sr.js SR\n");
    return 2;
  }
  const bytes = fs.readFileSync(argv[0]);
  const dicom = DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const sr = DicomMetaDictionary.naturalizeDataset(dicom.dict);
  const result = {
    sopClassUID: sr.SOPClassUID,
    title: code(sr.ConceptNameCodeSequence),
    template: list(sr.ContentTemplateSequence).map((t) => t.TemplateIdentifier)[0] || null,
    evidence: list(sr.CurrentRequestedProcedureEvidenceSequence).flatMap((study) =>
      list(study.ReferencedSeriesSequence).flatMap((series) =>
        list(series.ReferencedSOPSequence).map((instance) => instance.ReferencedSOPInstanceUID))),
    observers: [], library: [], groups: [],
  };
  for (const item of list(sr.ContentSequence)) {
    if (item.ValueType === "PNAME") {
      const name = list(item.PersonName)[0];
      result.observers.push(typeof name === "object" ? name.Alphabetic : name);
    } else if (item.ValueType === "CONTAINER" && named(item, "111028", "DCM")) {
      for (const libraryGroup of list(item.ContentSequence)) {
        for (const entry of list(libraryGroup.ContentSequence)) {
          if (entry.ValueType === "IMAGE") result.library.push(list(entry.ReferencedSOPSequence)[0].ReferencedSOPInstanceUID);
        }
      }
    } else if (item.ValueType === "CONTAINER" && named(item, "126010", "DCM")) {
      result.groups = list(item.ContentSequence).filter((g) => named(g, "125007", "DCM")).map(group);
    }
  }
  process.stdout.write(JSON.stringify(result));
  return 0;
}

process.exitCode = main(process.argv.slice(2));
