"""HTML in inbound mail: sanitising it for an agent's browser and turning it into plain text."""
from __future__ import annotations

import re
from functools import lru_cache
from html.parser import HTMLParser
from itertools import islice
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
# Attributes that hold a URL. Only href (links) and src (images) are kept, each with its own schemes: a
# browser follows the others too (cite and longdesc on a click, background and poster as loads, action and
# formaction on submit), and nh3 checks the schemes of href and src only.
_URL_ATTRIBUTES = frozenset({"cite", "longdesc", "background", "action", "formaction", "poster", "data",
                             "codebase", "classid", "usemap", "ping", "manifest", "icon", "profile", "dynsrc",
                             "lowsrc", "xlink:href", "srcset", "archive"})
assert not _URL_ATTRIBUTES.intersection(*_ALLOWED_ATTRIBUTES.values())
_SURROGATES = re.compile("[\ud800-\udfff]")
_LINK_SCHEMES = ("http:", "https:", "mailto:")
# Remote images are tracking pixels or loads made on the customer's behalf; embedded ones are fine.
_IMAGE_SCHEMES = ("cid:", "data:image/")
# Sizes a mail may give a box: up to about a wide screen, never in viewport units (100vw and 100vh with a
# negative margin cover the whole reading pane, a fake login form over our own interface).
_SIZES = frozenset({"width", "height", "max-width", "min-width"})
_SIZE = re.compile(r"(?:auto|0|(\d{1,5}(?:\.\d+)?)\s*(px|pt|%|em|rem)?)", re.IGNORECASE)
_SIZE_LIMITS = {"": 2000.0, "px": 2000.0, "pt": 1500.0, "%": 100.0, "em": 120.0, "rem": 120.0}


def _size_allowed(value: str) -> bool:
    match = _SIZE.fullmatch(value.strip())
    if match is None:
        return False
    number, unit = match.group(1), (match.group(2) or "").lower()
    return number is None or float(number) <= _SIZE_LIMITS[unit]


def _safe_style(style: str) -> str | None:
    """The declarations kept: no size beyond the screen, no negative margin (content moved over other content);
    nh3's property allow-list has dropped position, z-index, transform and the offsets already."""
    kept: list[str] = []
    for declaration in style.split(";"):
        name, colon, value = declaration.partition(":")
        name, value = name.strip().lower(), value.strip()
        if not colon or not name:
            continue
        if name in _SIZES and not _size_allowed(value):
            continue
        if name.startswith("margin") and "-" in value:
            continue
        kept.append(f"{name}:{value}")
    return ";".join(kept) or None


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute in _URL_ATTRIBUTES:
        return None
    if attribute == "href":
        return value if tag == "a" and value.strip().lower().startswith(_LINK_SCHEMES) else None
    if attribute == "src":
        return value if tag == "img" and value.strip().lower().startswith(_IMAGE_SCHEMES) else None
    if attribute == "style":
        return _safe_style(value)
    if attribute in ("width", "height") and not _size_allowed(value):
        return None
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


# Elements whose content is never shown; rough_word_count skips it, to the end when unclosed (as a browser does).
_HIDDEN = re.compile(r"<!--|<(script|style|head|title)\b", re.IGNORECASE)
# A tag ends at ">" or, for a broken one, before the next "<": never a scan to the end of the text per "<".
_TAG_MARKUP = re.compile(r"<[^<>]*>")


def _shown(html: str) -> str:
    pieces: list[str] = []
    lowered = html.lower()
    position = 0
    for match in _HIDDEN.finditer(html):
        if match.start() < position:
            continue
        pieces.append(html[position:match.start()])
        closer = "-->" if match.group(1) is None else f"</{match.group(1).lower()}"
        end = lowered.find(closer, match.end())
        if end < 0:
            return " ".join(pieces)
        position = lowered.find(">", end) + 1 if closer != "-->" else end + 3
        if position <= 0:
            return " ".join(pieces)
        pieces.append(" ")
    pieces.append(html[position:])
    return "".join(pieces)


def rough_word_count(html: str) -> int:
    """About as many words as html_to_text would find (never fewer), in linear time: worth it to skip the
    real thing."""
    return len(_TAG_MARKUP.sub(" ", _shown(html)).split())


# ---------------------------------------------------------------------------------------------- budget

# What is sanitized and converted for display: nh3 builds a DOM of ~50 bytes per byte of HTML, and its
# tree builder's work grows with elements x depth (150,000 unclosed <div> took 76 s). A mail's HTML beyond
# this is newsletter filler or an attack; the whole mail stays in S3 as received. 20,000 tags in any
# arrangement take the sanitizer about a second on a Lambda-sized CPU: the bound holds by construction,
# whatever the markup, where nesting_depth below is only a model.
DISPLAY_HTML_CHARS = 1024 * 1024
DISPLAY_HTML_TAGS = 20_000
SHORTENED_NOTE = "This message was shortened for display; the complete mail is kept as it was received."

_VOID = frozenset({"area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img",
                   "input", "keygen", "link", "menuitem", "meta", "param", "source", "track", "wbr"})
# A start tag that closes an open element of its own name (<p><p>, <li><li>, <td><td>) ...
_CLOSE_OWN_KIND = frozenset({"p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "rb", "rt", "rp",
                             "tbody", "thead", "tfoot", "a", "nobr", "button", "form"})
# ... and the blocks that close an open <p> (the HTML tree builder's "close a p element").
_CLOSE_P = frozenset({"address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div",
                      "dl", "fieldset", "figcaption", "figure", "footer", "header", "hgroup", "main", "menu",
                      "nav", "ol", "section", "summary", "ul", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
                      "listing", "li", "dd", "dt", "hr", "xmp", "table", "form", "plaintext"})
_RAW_TEXT = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes",
                       "noscript", "plaintext"})
_START_OR_END = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)([^<>]*)")


def display_html(html: str) -> tuple[str, bool]:
    """The head of `html` that is shown: at most DISPLAY_HTML_CHARS and DISPLAY_HTML_TAGS, cut before a
    tag; and whether it was cut."""
    end = min(len(html), DISPLAY_HTML_CHARS)
    over = next(islice(_START_OR_END.finditer(html, 0, end), DISPLAY_HTML_TAGS, None), None)
    if over is not None:
        end = over.start()
    elif end < len(html):
        cut = html.rfind("<", end // 2, end)
        end = cut if cut > 0 else end
    return (html, False) if end >= len(html) else (html[:end], True)


def nesting_depth(html: str, stop_above: int) -> int:
    """How deep the HTML tree builder will nest elements, roughly and in linear time; counting stops once
    past `stop_above`.

    The builder (html5ever in nh3) looks down the stack of open elements for most start tags, so its
    work grows with elements x depth. This models its stack well enough to refuse the plain attacks
    (thousands of unclosed <div>) and pass real mail: void elements, end tags that close what is open
    inside them (so <div><b></div> does not count the <b>), the start tags that close their own kind or
    an open <p>. It is not the adoption agency; DISPLAY_HTML_TAGS is what bounds the work.
    """
    stack: list[str] = []
    counts: dict[str, int] = {}
    lowered: str | None = None
    deepest = 0
    position = 0
    while True:
        match = _START_OR_END.search(html, position)
        if match is None:
            return deepest
        position = match.end()
        name = match.group(2).lower()
        if match.group(1):
            if counts.get(name):
                _pop_to(name, stack, counts)
            continue
        foreign = counts.get("svg") or counts.get("math")
        # Its content is text, whatever it looks like; not inside <svg> or <math>, where <style> and
        # <title> are elements like any other and a <div> inside breaks out and nests.
        if name in _RAW_TEXT and not foreign:
            lowered = html.lower() if lowered is None else lowered
            end = lowered.find(f"</{name}", position)
            if end < 0:
                return deepest
            position = end
            continue
        if name in _VOID or (foreign and match.group(3).endswith("/")):
            continue
        if name in _CLOSE_OWN_KIND and counts.get(name):
            _pop_to(name, stack, counts)
        if name in _CLOSE_P and counts.get("p"):
            _pop_to("p", stack, counts)
        stack.append(name)
        counts[name] = counts.get(name, 0) + 1
        if len(stack) > deepest:
            deepest = len(stack)
            if deepest > stop_above:
                return deepest


def _pop_to(name: str, stack: list[str], counts: dict[str, int]) -> None:
    while stack:
        top = stack.pop()
        counts[top] -= 1
        if top == name:
            return
