"""One contract for the BlobStore port, run against the in-memory twin and S3 (moto)."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from chalicelib.adapters.s3_blobs import InMemoryBlobStore
from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.ports import BlobStore

BUCKET = "shopdesk-test-raw-mail"  # the bucket tests.conftest.provision creates


@pytest.fixture(params=["memory", "s3"])
def blobs(request: pytest.FixtureRequest) -> Iterator[BlobStore]:
    if request.param == "memory":
        yield InMemoryBlobStore(BUCKET)
        return
    request.getfixturevalue("aws")
    from chalicelib import bootstrap

    yield bootstrap.shop().blobs


def test_put_returns_a_location_that_reads_back(blobs: BlobStore) -> None:
    location = blobs.put("inbound/abc", b"From: a@b\r\n\r\nhi", "message/rfc822")
    assert location == f"s3://{BUCKET}/inbound/abc"
    assert blobs.read(location, 1000) == b"From: a@b\r\n\r\nhi"
    assert blobs.read("inbound/abc", 1000) == b"From: a@b\r\n\r\nhi"  # a bare key is in our bucket


def test_put_again_replaces(blobs: BlobStore) -> None:
    blobs.put("bodies/1", b"first", "text/plain")
    location = blobs.put("bodies/1", b"second", "text/plain")
    assert blobs.read(location, 100) == b"second"


def test_reading_over_the_limit_is_invalid_input(blobs: BlobStore) -> None:
    location = blobs.put("inbound/big", b"x" * 101, "message/rfc822")
    assert blobs.read(location, 101) == b"x" * 101
    with pytest.raises(InvalidInput):
        blobs.read(location, 100)


def test_an_absent_object_is_not_found(blobs: BlobStore) -> None:
    with pytest.raises(NotFound):
        blobs.read(f"s3://{BUCKET}/inbound/missing", 100)
    with pytest.raises(NotFound):
        blobs.read("inbound/missing", 100)


@pytest.mark.parametrize("location", [f"s3://{BUCKET}/attachments/t1/r sum.pdf", "attachments/t1/r sum.pdf"])
def test_download_url_names_the_object_the_file_and_the_expiry(blobs: BlobStore, location: str) -> None:
    blobs.put("attachments/t1/r sum.pdf", b"%PDF", "application/pdf")
    url = urlsplit(blobs.download_url(location, "résumé 2026.pdf", seconds=120))
    query = parse_qs(url.query)
    assert BUCKET in url.netloc + url.path and unquote(url.path).endswith("/attachments/t1/r sum.pdf")
    assert query["response-content-disposition"] == ["attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%202026.pdf"]
    assert query["X-Amz-Expires"] == ["120"]


def test_a_download_is_a_file_with_the_object_in_it(blobs: BlobStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several download chunks, and past what stays in memory
    location = blobs.put("inbound/large", data, "message/rfc822")
    with blobs.download(location, len(data)) as file:
        assert file.read() == data
        file.seek(0)
        assert file.read(5) == data[:5]


def test_a_download_over_the_limit_or_absent_raises_as_read_does(blobs: BlobStore) -> None:
    location = blobs.put("inbound/big", b"x" * 101, "message/rfc822")
    with pytest.raises(InvalidInput):
        blobs.download(location, 100)
    with pytest.raises(NotFound):
        blobs.download("inbound/missing", 100)


def test_put_file_streams_from_the_files_position(blobs: BlobStore) -> None:
    data = os.urandom(2 * 1024 * 1024)
    with tempfile.TemporaryFile() as file:
        file.write(b"skip" + data)
        file.seek(4)
        location = blobs.put_file("attachments/t1/0/photo.jpg", file, "image/jpeg")
    assert location == f"s3://{BUCKET}/attachments/t1/0/photo.jpg"
    assert blobs.read(location, len(data)) == data
