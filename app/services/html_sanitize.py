"""A description's HTML made safe to render: an allow-list, not a deny-list.

Only the tags a dataset description uses (paragraphs, emphasis, lists, headings, links,
tables, code) are kept, each with only the attributes it needs; everything else is dropped:
the tag, and for script, style, iframe, object, embed, template and the like their content too.
Event handlers (`onclick`...), `style` and any other attribute are gone; a link keeps its
address only when it is http(s) or mailto (never `javascript:`, `data:` or `vbscript:`, however
spelled with spaces, entities or case). Text and kept attribute values are escaped again, so
what comes out is well-formed whatever came in. No Qt here: the form's preview
(views.html_preview) renders what this returns.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "q", "s", "small",
    "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u",
    "ul",
})  # fmt: skip
VOID_TAGS = frozenset({"br", "hr"})
# Dropped with everything inside them: what they hold is not text for a reader.
DROPPED_WITH_CONTENT = frozenset({
    "script", "style", "iframe", "object", "embed", "applet", "template", "noscript", "frame",
    "frameset", "svg", "math", "head", "title", "textarea", "select", "button", "form",
})  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": frozenset({"href", "title"}),
    "abbr": frozenset({"title"}),
    "td": frozenset({"colspan", "rowspan"}),
    "th": frozenset({"colspan", "rowspan", "scope"}),
}
SAFE_SCHEMES = ("http", "https", "mailto")
# Control characters and whitespace a browser ignores inside a scheme ("java\tscript:").
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f]+")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")


def safe_url(url: str) -> bool:
    """An http(s) or mailto address, or a relative one (no scheme at all)."""
    plain = _IGNORED_IN_SCHEME.sub("", html.unescape(url))
    scheme = _SCHEME.match(plain)
    if scheme is None:
        return ":" not in plain.split("/", 1)[0]  # "javascript&colon;x" unescaped has one
    return scheme.group(1).lower() in SAFE_SCHEMES


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._dropping: list[str] = []  # open tags whose content is dropped
        self._open: list[str] = []  # kept tags still open, closed at the end

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._dropping or tag in DROPPED_WITH_CONTENT:
            if tag in DROPPED_WITH_CONTENT:
                self._dropping.append(tag)
            return
        if tag not in ALLOWED_TAGS:
            return
        allowed = ALLOWED_ATTRIBUTES.get(tag, frozenset())
        kept = []
        for name, value in attrs:
            if name not in allowed or value is None:
                continue
            if name == "href" and not safe_url(value):
                continue
            kept.append(f' {name}="{html.escape(value, quote=True)}"')
        self.parts.append(f"<{tag}{''.join(kept)}>")
        if tag not in VOID_TAGS:
            self._open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROPPED_WITH_CONTENT:
            return  # <script/> opens nothing to drop
        self.handle_starttag(tag, attrs)
        if tag in self._open and tag not in VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._dropping:
            if tag == self._dropping[-1]:
                self._dropping.pop()
            return
        if tag not in ALLOWED_TAGS or tag in VOID_TAGS or tag not in self._open:
            return
        while self._open:  # close what was left open inside it, as a browser would
            last = self._open.pop()
            self.parts.append(f"</{last}>")
            if last == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            self.parts.append(html.escape(data, quote=False))

    def result(self) -> str:
        self.close()
        return "".join(self.parts) + "".join(f"</{tag}>" for tag in reversed(self._open))


def sanitize_html(source: str) -> str:
    """`source` with only the allowed tags, attributes and addresses (see the docstring)."""
    sanitizer = _Sanitizer()
    sanitizer.feed(source)
    return sanitizer.result()
