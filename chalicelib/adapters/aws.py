"""The one place AWS clients are built: lazily, once per process, all from one shared botocore session,
after moto (in tests) is active.

One session because each session loads botocore's endpoint and partition data (~1.3 MB of JSON) and
resolves credentials on its own: three sessions cost a cold container ~60 ms CPU more than one. botocore's
session rather than boto3's: boto3 adds nothing to a client but S3's transfer helpers (upload_fileobj ...,
which ShopDesk does not use), and importing it pulls s3transfer and ~25 ms CPU into every cold start.
The session reads botocore's data through chalicelib.adapters.botocore_data (the same answers for ~30 ms
less CPU on a cold start). And a fixed User-Agent: botocore otherwise rebuilds its structured one
(sanitizing a dozen components) twice per request, ~7 % of its CPU.
Parameter validation (botocore walking every request against the service model before sending it) is a
choice of the caller's settings: on in tests and the local stack, where it catches our mistakes before moto
does, off in Lambda, where AWS validates every request anyway and the walk costs CPU per call."""
from __future__ import annotations

import platform
import threading
from typing import Any

_lock = threading.Lock()  # building a client is not thread-safe, and two threads must not build two
_session: list[Any] = []  # at most one
_clients: dict[tuple[str, str, bool], Any] = {}


def session() -> Any:
    """The process's one session: its loader, endpoint data and credentials serve every client."""
    with _lock:
        return _shared_session()


def _shared_session() -> Any:
    if not _session:
        # deferred: botocore costs ~100 ms CPU to import and `import app` must stay light
        from botocore.session import get_session

        from chalicelib.adapters.botocore_data import data_loader

        session = get_session()
        session.register_component("data_loader", data_loader(session.get_config_variable("data_path")))
        _session.append(session)
    return _session[0]


def client(service: str, region: str, *, parameter_validation: bool = True) -> Any:
    """The process's client for `service` in `region` (built on the first call, then the same object)."""
    key = (service, region, parameter_validation)
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in _clients:
            from botocore import __version__ as botocore_version
            from botocore.config import Config

            config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=10,
                            parameter_validation=parameter_validation,
                            user_agent=f"shopdesk Botocore/{botocore_version} Python/{platform.python_version()}")
            _clients[key] = _shared_session().create_client(service, region_name=region, config=config)
        return _clients[key]


def built_clients() -> list[tuple[str, str, bool]]:
    """(service, region, parameter_validation) of every client built so far."""
    return list(_clients)


def reset_clients() -> None:
    """Forget built clients and the session (tests start a fresh moto backend per test)."""
    with _lock:
        _clients.clear()
        _session.clear()


class LazyClient:
    """A client built on its first use: a Shop holds every adapter, most invocations use one or two.
    Attribute access (`get_object`, `exceptions`, `meta`) goes to the real client."""

    def __init__(self, service: str, region: str, *, parameter_validation: bool = True) -> None:
        self._service, self._region, self._validation = service, region, parameter_validation

    def __getattr__(self, name: str) -> Any:
        return getattr(client(self._service, self._region, parameter_validation=self._validation), name)


def lazy_client(service: str, region: str, *, parameter_validation: bool = True) -> Any:
    return LazyClient(service, region, parameter_validation=parameter_validation)
