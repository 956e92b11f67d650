#!/usr/bin/env bash
# External (non-Python) tools the tests use, from Debian's packages when running as root.
# Each later feature adds its tool to PACKAGES; under CI=true a tool that cannot be had fails.
set -euo pipefail
# chromium: renders the HTML agreement report in a test; fonts-dejavu-core: text drawn into test images.
# dicom3tools: dciodvfy checks every SEG, SR and de-identified file we write against the DICOM IODs.
# postgresql: the review store tests start a real server (initdb/pg_ctl) on 127.0.0.1.
# tesseract-ocr: OCR of burned-in text (de-identification).
# orthanc, orthanc-dicomweb: the reference PACS of the PACS tests (DICOMweb and DIMSE), run in a network namespace.
# libegl1, libegl-mesa0, libgl1-mesa-dri: offscreen (EGL) rendering of Slicer's views with slicer-core
# (Testing/bridge/views.py: the view tests and the extension's screenshots).
PACKAGES=(chromium fonts-dejavu-core dicom3tools orthanc orthanc-dicomweb postgresql tesseract-ocr libegl1 libegl-mesa0
          libgl1-mesa-dri)
[ ${#PACKAGES[@]} -eq 0 ] && exit 0
missing=()
for package in "${PACKAGES[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  # Services these packages bring (orthanc, postgresql) must not start: the tests start their own, on loopback only.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
elif [ "${CI:-}" = "true" ]; then
  echo "error: Debian packages ${missing[*]} are missing and this is not root; install them" >&2
  exit 1
else
  echo "warning: Debian packages ${missing[*]} are missing; their tests will be skipped" >&2
fi
