"""How the shared session reads botocore's bundled data (endpoints, partitions, service models): the same
files and answers as botocore's own Loader, for less CPU on a cold start. Imported only when the first
client is built (it imports botocore).

Two costs of botocore's Loader that a container pays before its first AWS call, measured on the first email:
- its JSON reader builds an OrderedDict per JSON object (a Python 2 habit; dicts keep order since 3.7):
  ~36 ms instead of ~18 ms for endpoints.json and the DynamoDB, S3 and SES models;
- before loading one service's model it lists every service it knows (~420 folders, one listdir and a
  few stats each, once per kind of file: the model, the endpoint rules): ~11 ms to find three names."""
from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator, Sequence
from typing import Any, overload

from botocore.loaders import Loader


class DictJSONFileLoader:
    """botocore's JSONFileLoader (the `exists`/`load_file` interface its Loader calls), building plain
    dicts; botocore never needs OrderedDict's extra methods."""

    _OPENERS = ((".json", open), (".json.gz", gzip.open))  # botocore's order: plain first

    def exists(self, file_path: str) -> bool:
        return any(os.path.isfile(file_path + ext) for ext, _ in self._OPENERS)

    def load_file(self, file_path: str) -> Any:
        for ext, opener in self._OPENERS:
            if os.path.isfile(file_path + ext):
                with opener(file_path + ext, "rb") as handle:
                    return json.loads(handle.read().decode("utf-8"))
        return None


class KnownServices(Sequence[str]):
    """What `Loader.list_available_services(type_name)` returns, answering `name in services` from that
    one service's folders; the full sorted list is built only when something iterates it."""

    def __init__(self, loader: DataLoader, type_name: str) -> None:
        self._loader, self._type_name = loader, type_name
        self._names: list[str] | None = None

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or not name or name != os.path.basename(name) or name.startswith("."):
            return name in self._all()
        for location in self._loader.search_paths:
            folder = os.path.join(location, name)
            if os.path.isdir(folder) and any(
                    self._loader.file_loader.exists(os.path.join(folder, version, self._type_name))
                    for version in os.listdir(folder)):
                return True
        return False

    def _all(self) -> list[str]:
        if self._names is None:
            self._names = list(Loader.list_available_services(self._loader, self._type_name))
        return self._names

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        return self._all() == (list(other) if isinstance(other, KnownServices) else other)

    def __hash__(self) -> int:
        return hash(tuple(self._all()))


class DataLoader(Loader):  # type: ignore[misc]  # botocore is untyped
    """botocore's Loader with the two savings above; everything else is botocore's."""

    def list_available_services(self, type_name: str) -> KnownServices:
        return KnownServices(self, type_name)


def data_loader(data_path: str | None) -> DataLoader:
    """The loader botocore's session would build for AWS_DATA_PATH / `data_path` (botocore.loaders.create_loader)."""
    extra = None
    if data_path:
        extra = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)]
    return DataLoader(extra_search_paths=extra, file_loader=DictJSONFileLoader())
