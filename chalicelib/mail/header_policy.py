"""The email policy parse_email reads mail with: policy.default, without re-parsing headers on every access."""
from __future__ import annotations

from email.headerregistry import HeaderRegistry
from email.policy import EmailPolicy
from typing import Any

from chalicelib.mail.model import MailLimitExceeded

# Headers the stdlib parses into parameters (and reads while it parses, for every part).
_PARAMETERIZED = frozenset({"content-type", "content-disposition"})


class HeaderClasses(HeaderRegistry):
    """The stdlib's header registry without its cost: it builds a new class for every header it parses."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[type, type] = {}

    def __getitem__(self, name: str) -> type:
        cls = self.registry.get(name.lower(), self.default_class)
        made = self._classes.get(cls)
        if made is None:
            made = self._classes[cls] = super().__getitem__(name)
        return made


class OncePerMessagePolicy(EmailPolicy):
    """policy.default that parses each header value once per message.

    policy.default builds a new header object (and a new header class) on every access; the feedparser,
    get_body() and get_content() read Content-Type a dozen times per part, which was most of the parse.
    The cache lives on a clone made for one message and goes with it.
    """

    header_cache: dict[tuple[str, str], Any] | None = None
    max_parameters: int | None = None
    max_headers: int | None = None
    header_count: list[int] | None = None  # one counter for the message, shared by its parts

    def for_one_message(self, max_parameters: int | None = None,
                        max_headers: int | None = None) -> OncePerMessagePolicy:
        return self.clone(header_cache={}, max_parameters=max_parameters,  # type: ignore[call-arg]  # ours
                          max_headers=max_headers, header_count=[0])

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        # The feedparser calls this for every header as it reads it, before anything parses the value:
        # the one place to refuse a header whose parameters would take minutes to parse. Counting ";"
        # over-counts quoted ones, which only matters far beyond what real mail sends.
        name, value = super().header_source_parse(sourcelines)
        if self.header_count is not None and self.max_headers is not None:
            self.header_count[0] += 1
            if self.header_count[0] > self.max_headers:
                raise MailLimitExceeded(f"max_headers exceeded (more than {self.max_headers} header fields)")
        limit = self.max_parameters
        if limit is not None and name.strip().lower() in _PARAMETERIZED and value.count(";") > limit:
            raise MailLimitExceeded(f"max_parameters exceeded (more than {limit} parameters in {name.strip()})")
        return name, value

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        cache = self.header_cache
        if cache is None or not isinstance(value, str) or hasattr(value, "name"):
            return super().header_fetch_parse(name, value)
        key = (name, value)
        header = cache.get(key)
        if header is None:
            header = cache[key] = super().header_fetch_parse(name, value)
        return header

