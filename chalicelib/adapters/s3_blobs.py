"""S3 implementation of the BlobStore port (AWS errors leave as domain errors), and its in-memory twin."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from chalicelib.adapters.aws_errors import translated
from chalicelib.domain.errors import InvalidInput, NotFound


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

    def put(self, key: str, data: bytes, content_type: str) -> str:
        with translated("s3", "PutObject"):
            self._client.put_object(
                Bucket=self._bucket, Key=key, Body=data, ContentType=content_type,
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

    def put(self, key: str, data: bytes, content_type: str) -> str:
        location = f"s3://{self.bucket}/{key}"
        self.objects[location] = bytes(data)
        return location

    def download_url(self, location: str, filename: str, seconds: int = 300) -> str:
        """Shaped as S3's presigned URL: bucket and key in the URL, the same disposition and expiry."""
        bucket, key = split_location(location, self.bucket)
        query = urlencode({"response-content-disposition": content_disposition(filename), "X-Amz-Expires": seconds})
        return f"memory://{bucket}/{quote(key)}?{query}"
