"""The email policy parse_email reads mail with: policy.default, without re-parsing headers on every access."""
from __future__ import annotations

from email.headerregistry import HeaderRegistry
from email.policy import EmailPolicy
from typing import Any


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

    def for_one_message(self) -> OncePerMessagePolicy:
        return self.clone(header_cache={})  # type: ignore[call-arg]  # our own attribute

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        cache = self.header_cache
        if cache is None or not isinstance(value, str) or hasattr(value, "name"):
            return super().header_fetch_parse(name, value)
        key = (name, value)
        header = cache.get(key)
        if header is None:
            header = cache[key] = super().header_fetch_parse(name, value)
        return header

