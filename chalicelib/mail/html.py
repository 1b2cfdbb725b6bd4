"""HTML in inbound mail: sanitising it for an agent's browser and turning it into plain text."""
from __future__ import annotations

import re
from functools import lru_cache
from html.parser import HTMLParser
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import nh3

_ALLOWED_TAGS = frozenset({
    "a", "abbr", "acronym", "b", "bdi", "bdo", "blockquote", "br", "caption", "center", "cite", "code",
    "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure",
    "font", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "i", "img", "ins", "kbd", "li",
    "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "summary", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul", "var", "wbr",
})
# Removed with everything inside them: their content is code or an embedded page, never text for the agent.
_DROPPED_WITH_CONTENT = frozenset({
    "script", "style", "iframe", "object", "embed", "noscript", "title", "template",
})
_CELL_ATTRIBUTES = {"align", "valign", "colspan", "rowspan", "width", "height", "bgcolor", "headers", "scope"}
_ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"style", "title", "dir", "lang"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "font": {"color", "face", "size"},
    "table": {"width", "border", "cellpadding", "cellspacing", "bgcolor", "align"},
    "td": _CELL_ATTRIBUTES,
    "th": _CELL_ATTRIBUTES,
    "tr": {"align", "valign", "bgcolor"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "ol": {"start", "type"},
    "blockquote": {"cite"},
    "hr": {"width", "size", "align"},
}
# Only properties that cannot take url(): a style can otherwise load a tracking pixel like <img> can.
_ALLOWED_STYLE_PROPERTIES = frozenset({
    "color", "background-color", "font-family", "font-size", "font-style", "font-weight", "line-height",
    "text-align", "text-decoration", "text-indent", "text-transform", "vertical-align", "white-space",
    "margin", "margin-top", "margin-right", "margin-bottom", "margin-left", "padding", "padding-top",
    "padding-right", "padding-bottom", "padding-left", "border", "border-top", "border-right",
    "border-bottom", "border-left", "border-color", "border-style", "border-width", "border-collapse",
    "width", "height", "max-width", "min-width", "display",
})
_SURROGATES = re.compile("[\ud800-\udfff]")
_LINK_SCHEMES = ("http:", "https:", "mailto:")
# Remote images are tracking pixels or loads made on the customer's behalf; embedded ones are fine.
_IMAGE_SCHEMES = ("cid:", "data:image/")


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "a" and attribute == "href":
        return value if value.strip().lower().startswith(_LINK_SCHEMES) else None
    if tag == "img" and attribute == "src":
        return value if value.strip().lower().startswith(_IMAGE_SCHEMES) else None
    return value


@lru_cache(maxsize=1)
def _cleaner() -> nh3.Cleaner:
    # Imported on first use: the native module costs milliseconds at import, and cold starts count.
    import nh3

    return nh3.Cleaner(
        tags=set(_ALLOWED_TAGS),
        clean_content_tags=set(_DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in _ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_filter_attribute,
        link_rel="noopener noreferrer nofollow",
        url_schemes={"http", "https", "mailto", "cid", "data"},
        filter_style_properties=set(_ALLOWED_STYLE_PROPERTIES),
    )


def sanitize_html(html: str) -> str:
    """HTML safe to show an agent: no scripts, handlers, forms, frames or remote loads."""
    try:
        return _cleaner().clean(html)
    except UnicodeEncodeError:
        # Lone surrogates (undecodable bytes a caller kept as escapes) cannot cross into nh3's Rust.
        return _cleaner().clean(_SURROGATES.sub("\ufffd", html))


# Block elements and how many line breaks surround them: paragraphs get a blank line, other blocks a break.
_BLOCK_TAGS: dict[str, int] = {
    **dict.fromkeys(("address", "article", "aside", "caption", "center", "dd", "details", "div", "dl", "dt",
                     "figcaption", "figure", "footer", "form", "header", "hr", "li", "main", "nav", "section",
                     "summary", "tbody", "tfoot", "thead", "tr"), 1),
    **dict.fromkeys(("p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ol", "ul", "pre", "table"), 2),
}
_SKIPPED_TAGS = frozenset({"script", "style", "head", "title", "noscript", "template", "iframe", "object"})
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._last = "\n"
        self._pending_newlines = 0
        self._skip_depth = 0
        self._pre_depth = 0

    def _emit(self, text: str) -> None:
        if not text:
            return
        if self._pending_newlines and self.chunks:
            self.chunks.append("\n" * self._pending_newlines)
            self._last = "\n"
        self._pending_newlines = 0
        self.chunks.append(text)
        self._last = text[-1]

    def _block(self, newlines: int) -> None:
        # Adjacent block boundaries (</div><div>) make one line break, not one each.
        self._pending_newlines = max(self._pending_newlines, newlines)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag == "br":
            self._pending_newlines += 1
        elif tag == "li":
            self._block(1)
            self._emit("- ")
        elif tag in _BLOCK_TAGS:
            self._block(_BLOCK_TAGS[tag])
            if tag == "pre":
                self._pre_depth += 1
        elif tag in ("td", "th") and self._last not in " \n" and not self._pending_newlines:
            self._emit(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/>, <hr/> or a self-closed <script/>: a line break at most, never an unclosed skipped region.
        if tag == "br":
            self._pending_newlines += 1
        elif tag in _BLOCK_TAGS:
            self._block(_BLOCK_TAGS[tag])

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            if tag == "pre":
                self._pre_depth = max(0, self._pre_depth - 1)
            self._block(_BLOCK_TAGS[tag])

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pre_depth:
            self._emit(data)
            return
        text = _SPACES.sub(" ", data)
        # Source indentation and line breaks are markup, not text: one space between words at most.
        if self._last in " \n" or self._pending_newlines:
            text = text.lstrip(" ")
        self._emit(text)


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML body: block elements become lines, entities decoded."""
    extractor = _TextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
    except Exception:  # HTMLParser is lenient, but a codec of last resort must never fail
        pass
    text = "".join(extractor.chunks).replace("\xa0", " ")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip("\n")


# Markup and the content of elements never shown, for a quick word count without parsing.
_MARKUP = re.compile(r"<(script|style|head|title)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>", re.IGNORECASE | re.DOTALL)


def rough_word_count(html: str) -> int:
    """About as many words as html_to_text would find, at regex speed: worth it to skip the real thing."""
    return len(_MARKUP.sub(" ", html).split())
