"""The pieces of a transfer that need no PACS: URLs, credentials, the multipart stream, retries."""

from __future__ import annotations

import json

import pytest
from DICOMAnnotatorLib.errors import InputError
from DICOMAnnotatorLib.pacs import RetryPolicy, TransferError, TransientError, load_credentials, parse_endpoint
from DICOMAnnotatorLib.pacs.multipart import boundary_of, split_parts


def test_pacs_urls_name_dicomweb_or_dimse_and_never_carry_credentials():
    web = parse_endpoint("http://pacs.example:8042/dicom-web/")
    assert (web.kind, web.url, web.host, web.port) == ("dicomweb", "http://pacs.example:8042/dicom-web",
                                                       "pacs.example", 8042)
    dimse = parse_endpoint("dimse://ORTHANC@10.0.0.5:4242", calling_aet="READER1")
    assert (dimse.kind, dimse.called_aet, dimse.calling_aet, dimse.port) == ("dimse", "ORTHANC", "READER1", 4242)
    for bad, fragment in [("ftp://x/y", "neither DICOMweb nor DIMSE"), ("dimse://host:104", "not dimse://AET@"),
                          ("dimse://AN-AE-TITLE-TOO-LONG@h:1", "not an AE title"),
                          ("http://user:secret@h/dicom-web", "carries credentials")]:
        with pytest.raises(InputError, match=fragment) as caught:
            parse_endpoint(bad)
        assert "secret" not in str(caught.value)


def test_credentials_from_a_file_or_the_environment_never_show_the_secret(tmp_path):
    path = tmp_path / "pacs.json"
    path.write_text(json.dumps({"user": "alice", "password": "pw-123456"}))
    credentials = load_credentials(path, environ={})
    assert (credentials.user, credentials.password) == ("alice", "pw-123456") and "pw-123456" not in repr(credentials)
    token = load_credentials(None, environ={"DICOM_ANNOTATOR_PACS_TOKEN": "tok-987"})
    assert token.token == "tok-987" and "tok-987" not in repr(token) and token.source == "$DICOM_ANNOTATOR_PACS_TOKEN"
    assert load_credentials(None, environ={}) is None
    path.write_text('{"user": "alice", "password": "pw-123456"')  # not JSON: the message must not quote it
    with pytest.raises(InputError, match="is not JSON") as caught:
        load_credentials(path, environ={})
    assert "pw-123456" not in str(caught.value)
    with pytest.raises(InputError, match="set both"):
        load_credentials(None, environ={"DICOM_ANNOTATOR_PACS_USER": "alice"})


def _message(parts: list[bytes], boundary: bytes = b"b0undary") -> bytes:
    body = b"preamble to ignore"
    for part in parts:
        body += b"\r\n--" + boundary + b"\r\nContent-Type: application/dicom\r\n\r\n" + part
    return body + b"\r\n--" + boundary + b"--\r\nepilogue"


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 10_000])
def test_multipart_parts_come_out_whole_whatever_the_chunks(chunk):
    parts = [b"DICM" + bytes(range(256)) * 3, b"", b"\r\n--b0undar not the boundary \r\n", b"x" * 999]
    message = _message(parts)
    chunks = [message[i:i + chunk] for i in range(0, len(message), chunk)]
    assert list(split_parts(chunks, b"b0undary")) == parts


def test_a_multipart_stream_cut_short_gives_its_whole_parts_then_a_transient_error():
    message = _message([b"first", b"second-part"])
    cut = message[:message.index(b"second-part") + 3]
    received = []
    with pytest.raises(TransientError, match="ended before its last part"):
        for part in split_parts([cut], b"b0undary"):
            received.append(part)
    assert received == [b"first"]


def test_the_boundary_is_read_from_the_content_type():
    assert boundary_of('multipart/related; type="application/dicom"; boundary="abc 123"') == b"abc 123"
    with pytest.raises(TransferError, match="application/json"):
        boundary_of("application/json")


def test_retries_back_off_and_stop_at_a_final_error():
    waits, calls = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise TransientError("busy")
        return "done"

    policy = RetryPolicy(attempts=4, first_delay=0.5)
    assert policy.run(flaky, "test", sleep=waits.append) == "done" and waits == [0.5, 1.0]
    with pytest.raises(TransferError, match="refused"):
        policy.run(lambda: (_ for _ in ()).throw(TransferError("refused")), "test", sleep=waits.append)
    assert waits == [0.5, 1.0]
