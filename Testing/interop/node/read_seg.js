#!/usr/bin/env node
// Reads a DICOM SEG with dcmjs (the DICOM library OHIF uses) and prints what it found as JSON,
// so that the Python tests can compare it with what DICOMAnnotator wrote.
//
//   node read_seg.js SEG [SOURCE...]
//
// Always: the segments (number, label, codes, colour) and every frame (segment, position,
// source image, non-zero pixel count, pixel sum and count per value; no position on a 2D image)
// from dcmjs.data.DicomMessage,
// with BINARY frames unpacked by dcmjs' BitArray and LABELMAP frames decoded by its RLE decoder. With the source images (files of the referenced series)
// and a BINARY SEG, also the label maps that the Cornerstone Segmentation adapter
// (generateToolState, the SEG import path of OHIF) builds on those images: one Uint16 buffer
// per non-overlapping group of segments, base64, with the (SOP Instance UID, frame) of each
// image in buffer order.
"use strict";

const fs = require("fs");
const dcmjs = require("dcmjs");

const { DicomMessage, DicomMetaDictionary, BitArray } = dcmjs.data;
const RLE_LOSSLESS = "1.2.840.10008.1.2.5";

function readDataset(path) {
  const bytes = fs.readFileSync(path);
  const arrayBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const dicom = DicomMessage.readFile(arrayBuffer);
  const dataset = DicomMetaDictionary.naturalizeDataset(dicom.dict);
  dataset._meta = DicomMetaDictionary.namifyDataset(dicom.meta);
  return { dataset, arrayBuffer };
}

function first(value) {
  return Array.isArray(value) ? value[0] : value;
}

function code(sequence) {
  const item = first(sequence);
  return item ? [item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning] : null;
}

function segments(seg) {
  const items = Array.isArray(seg.SegmentSequence) ? seg.SegmentSequence : [seg.SegmentSequence];
  return items.map((item) => ({
    number: item.SegmentNumber,
    label: item.SegmentLabel,
    algorithmType: item.SegmentAlgorithmType,
    category: code(item.SegmentedPropertyCategoryCodeSequence),
    type: code(item.SegmentedPropertyTypeCodeSequence),
    anatomicRegion: code(item.AnatomicRegionSequence),
    cielab: item.RecommendedDisplayCIELabValue || null,
  }));
}

// The frames' pixels, one value per pixel: BINARY unpacked by dcmjs' BitArray, LABELMAP (RLE Lossless)
// decoded by dcmjs' RLE decoder (the one its Cornerstone adapter uses), FRACTIONAL as stored.
function pixelsOf(seg) {
  if (seg._meta.TransferSyntaxUID.Value[0] === RLE_LOSSLESS) {
    const fragments = Array.isArray(seg.PixelData) ? seg.PixelData : [seg.PixelData];
    return dcmjs.utilities.compression.decode(fragments, seg.Rows, seg.Columns);
  }
  const data = first(seg.PixelData);
  return seg.SegmentationType === "BINARY" ? BitArray.unpack(data) : new Uint8Array(data);
}

function frames(seg) {
  const rows = seg.Rows;
  const columns = seg.Columns;
  const length = rows * columns;
  const pixels = pixelsOf(seg);
  const shared = first(seg.SharedFunctionalGroupsSequence) || {};
  const groups = Array.isArray(seg.PerFrameFunctionalGroupsSequence)
    ? seg.PerFrameFunctionalGroupsSequence : [seg.PerFrameFunctionalGroupsSequence];
  return groups.map((group, index) => {
    const identification = first(group.SegmentIdentificationSequence || shared.SegmentIdentificationSequence);
    const derivation = first(group.DerivationImageSequence);
    const source = derivation ? first(derivation.SourceImageSequence) : null;
    let nonzero = 0;
    let sum = 0;
    const counts = {};  // pixels per stored value (a LABELMAP frame's segment numbers)
    for (let p = index * length; p < (index + 1) * length; p++) {
      if (pixels[p]) {
        nonzero++;
        sum += pixels[p];
        counts[pixels[p]] = (counts[pixels[p]] || 0) + 1;
      }
    }
    return {
      segment: identification ? identification.ReferencedSegmentNumber : null,
      counts,
      position: group.PlanePositionSequence ? first(group.PlanePositionSequence).ImagePositionPatient : null,
      source: source ? [source.ReferencedSOPInstanceUID, source.ReferencedFrameNumber || null] : null,
      nonzero,
      sum,
    };
  });
}

// The Cornerstone metadata provider a viewer would hold for the source images.
function sourceImages(paths) {
  const metadata = new Map();
  const imageIds = [];
  for (const path of paths) {
    const { dataset } = readDataset(path);
    const shared = first(dataset.SharedFunctionalGroupsSequence) || {};
    const orientation = dataset.ImageOrientationPatient || first(shared.PlaneOrientationSequence).ImageOrientationPatient;
    const count = Number(dataset.NumberOfFrames || 1);
    for (let frame = 1; frame <= count; frame++) {
      const multiframe = dataset.NumberOfFrames !== undefined;
      // cornerstone's WADO image loader numbers frames from 0 in its image IDs
      const imageId = multiframe ? `${path}?frame=${frame - 1}` : path;
      const position = multiframe
        ? first(dataset.PerFrameFunctionalGroupsSequence[frame - 1].PlanePositionSequence).ImagePositionPatient
        : dataset.ImagePositionPatient;
      metadata.set(imageId, {
        imagePlaneModule: {
          rowCosines: orientation.slice(0, 3), columnCosines: orientation.slice(3, 6),
          rows: dataset.Rows, columns: dataset.Columns,
        },
        generalSeriesModule: { seriesInstanceUID: dataset.SeriesInstanceUID },
        sopCommonModule: { sopInstanceUID: dataset.SOPInstanceUID },
        imagePixelModule: { rows: dataset.Rows, columns: dataset.Columns },
        frameNumber: multiframe ? frame : undefined,
        instance: {
          ImagePositionPatient: position,
          FrameOfReferenceUID: dataset.FrameOfReferenceUID,
          SeriesInstanceUID: dataset.SeriesInstanceUID,
        },
        source: [dataset.SOPInstanceUID, multiframe ? frame : null],
      });
      imageIds.push(imageId);
    }
  }
  const provider = { get: (module, imageId) => (metadata.get(imageId) || {})[module] };
  return { imageIds, provider, sources: imageIds.map((id) => metadata.get(id).source) };
}

function main(argv) {
  if (argv.length < 1) {
    process.stderr.write("usage: node read_seg.js SEG [SOURCE...]\n");
    return 2;
  }
  const [segPath, ...sourcePaths] = argv;
  const { dataset: seg, arrayBuffer } = readDataset(segPath);
  const result = {
    sopClassUID: seg.SOPClassUID,
    segmentationType: seg.SegmentationType,
    maximumFractionalValue: seg.MaximumFractionalValue || null,
    rows: seg.Rows,
    columns: seg.Columns,
    contentCreatorName: seg.ContentCreatorName ? first(seg.ContentCreatorName).Alphabetic || first(seg.ContentCreatorName) : null,
    segments: segments(seg),
    frames: frames(seg),
  };
  if (sourcePaths.length && seg.SegmentationType === "BINARY") {
    const { imageIds, provider, sources } = sourceImages(sourcePaths);
    const state = dcmjs.adapters.Cornerstone.Segmentation.generateToolState(imageIds, arrayBuffer, provider);
    result.adapter = {
      sources,
      labelmaps: state.labelmapBufferArray.map((buffer) => Buffer.from(buffer).toString("base64")),
      segmentNumbers: state.segMetadata.data.filter(Boolean).map((item) => item.SegmentNumber),
    };
  }
  process.stdout.write(JSON.stringify(result));
  return 0;
}

process.exitCode = main(process.argv.slice(2));
