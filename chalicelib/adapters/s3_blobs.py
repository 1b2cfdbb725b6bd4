"""S3 implementation of the BlobStore port (AWS errors leave as domain errors), and its in-memory twin."""
from __future__ import annotations

import io
import tempfile
from typing import IO, Any
from urllib.parse import quote, urlencode

from chalicelib.adapters.aws_errors import translated
from chalicelib.domain.errors import InvalidInput, NotFound

DOWNLOAD_CHUNK_BYTES = 1024 * 1024
IN_MEMORY_BYTES = 1024 * 1024  # a download up to this size stays in memory; a larger one goes to /tmp


def split_location(location: str, default_bucket: str) -> tuple[str, str]:
    if location.startswith("s3://"):
        bucket, _, key = location[5:].partition("/")
        return bucket, key
    return default_bucket, location


def content_disposition(filename: str) -> str:
    """An attachment download keeping any filename (RFC 6266 `filename*`, UTF-8, percent-encoded)."""
    return "attachment; filename*=UTF-8''" + quote(filename, safe="")


class S3BlobStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def read(self, location: str, max_bytes: int) -> bytes:
        bucket, key = split_location(location, self._bucket)
        with translated("s3", "GetObject"):  # the body streams: a timeout while reading is transient too
            try:
                response = self._client.get_object(Bucket=bucket, Key=key)
            except self._client.exceptions.NoSuchKey as exc:
                raise NotFound(f"no object at {location}") from exc
            if int(response.get("ContentLength", 0)) > max_bytes:
                response["Body"].close()
                raise InvalidInput(f"object larger than {max_bytes} bytes")
            data: bytes = response["Body"].read()
        return data

    def download(self, location: str, max_bytes: int) -> IO[bytes]:
        bucket, key = split_location(location, self._bucket)
        file = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY_BYTES)  # noqa: SIM115 - the caller closes it
        try:
            with translated("s3", "GetObject"):  # the body streams: a timeout while reading is transient too
                try:
                    response = self._client.get_object(Bucket=bucket, Key=key)
                except self._client.exceptions.NoSuchKey as exc:
                    raise NotFound(f"no object at {location}") from exc
                body = response["Body"]
                if int(response.get("ContentLength", 0)) > max_bytes:
                    body.close()
                    raise InvalidInput(f"object larger than {max_bytes} bytes")
                copied = 0
                for chunk in body.iter_chunks(DOWNLOAD_CHUNK_BYTES):
                    copied += len(chunk)
                    if copied > max_bytes:  # a length header that lied
                        body.close()
                        raise InvalidInput(f"object larger than {max_bytes} bytes")
                    file.write(chunk)
            file.seek(0)
        except BaseException:
            file.close()
            raise
        return file

    def put(self, key: str, data: bytes, content_type: str) -> str:
        with translated("s3", "PutObject"):
            self._client.put_object(
                Bucket=self._bucket, Key=key, Body=data, ContentType=content_type,
                ServerSideEncryption="AES256",
            )
        return f"s3://{self._bucket}/{key}"

    def put_file(self, key: str, file: IO[bytes], content_type: str) -> str:
        # One PutObject with the file as its body: botocore streams it (and seeks back to retry), where
        # upload_fileobj would split anything over 8 MB into a multipart upload of several calls.
        with translated("s3", "PutObject"):
            self._client.put_object(
                Bucket=self._bucket, Key=key, Body=file, ContentType=content_type,
                ServerSideEncryption="AES256",
            )
        return f"s3://{self._bucket}/{key}"

    def download_url(self, location: str, filename: str, seconds: int = 300) -> str:
        bucket, key = split_location(location, self._bucket)
        disposition = content_disposition(filename)
        with translated("s3", "GeneratePresignedUrl"):  # signs locally; only credentials can fail
            url: str = self._client.generate_presigned_url(
                "get_object", ExpiresIn=seconds,
                Params={"Bucket": bucket, "Key": key, "ResponseContentDisposition": disposition},
            )
        return url


class InMemoryBlobStore:
    """BlobStore twin for tests and benchmarks."""

    def __init__(self, bucket: str = "memory") -> None:
        self.bucket = bucket
        self.objects: dict[str, bytes] = {}

    def read(self, location: str, max_bytes: int) -> bytes:
        if location not in self.objects and not location.startswith("s3://"):
            location = f"s3://{self.bucket}/{location}"
        if location not in self.objects:
            raise NotFound(f"no object at {location}")
        if len(self.objects[location]) > max_bytes:
            raise InvalidInput(f"object larger than {max_bytes} bytes")
        return self.objects[location]

    def download(self, location: str, max_bytes: int) -> IO[bytes]:
        return io.BytesIO(self.read(location, max_bytes))

    def put(self, key: str, data: bytes, content_type: str) -> str:
        location = f"s3://{self.bucket}/{key}"
        self.objects[location] = bytes(data)
        return location

    def put_file(self, key: str, file: IO[bytes], content_type: str) -> str:
        return self.put(key, file.read(), content_type)

    def download_url(self, location: str, filename: str, seconds: int = 300) -> str:
        """Shaped as S3's presigned URL: bucket and key in the URL, the same disposition and expiry."""
        bucket, key = split_location(location, self.bucket)
        query = urlencode({"response-content-disposition": content_disposition(filename), "X-Amz-Expires": seconds})
        return f"memory://{bucket}/{quote(key)}?{query}"
