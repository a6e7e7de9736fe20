"""The description's HTML made safe to render (services.html_sanitize): an allow-list."""

from __future__ import annotations

import pytest

from app.services.html_sanitize import safe_url, sanitize_html


def test_plain_description_html_is_kept() -> None:
    source = (
        '<h2>About</h2><p>Requests <b>by month</b>, see <a href="https://x.org/a?b=1&amp;c=2" '
        'title="More">the site</a>.</p><ul><li>one</li></ul><table><tr><td colspan="2">x</td>'
        "</tr></table>"
    )
    assert sanitize_html(source) == source


@pytest.mark.parametrize(
    ("source", "safe"),
    [
        ("<p>a<script>alert(1)</script>b</p>", "<p>ab</p>"),
        ('<p onclick="alert(1)" style="color:red">a</p>', "<p>a</p>"),
        ('<iframe src="https://evil/"></iframe><p>x</p>', "<p>x</p>"),
        ('<a href="javascript:alert(1)">x</a>', "<a>x</a>"),
        ('<a href="  JaVa\tScRiPt:alert(1)">x</a>', "<a>x</a>"),
        ('<a href="javascript&colon;alert(1)">x</a>', "<a>x</a>"),
        ('<a href="data:text/html,<script>">x</a>', "<a>x</a>"),
        ('<img src="x" onerror="alert(1)"><p>y</p>', "<p>y</p>"),
        ("<style>p{}</style><svg><script>1</script></svg>t", "t"),
        ("<p>1 < 2 & <b>open", "<p>1 &lt; 2 &amp; <b>open</b></p>"),
        ("<!-- hidden --><p>v</p>", "<p>v</p>"),
    ],
)
def test_dangerous_html_never_comes_out(source: str, safe: str) -> None:
    assert sanitize_html(source) == safe


def test_safe_urls() -> None:
    assert safe_url("https://x.org/") and safe_url("mailto:a@b.org") and safe_url("/relative")
    assert not safe_url("vbscript:x") and not safe_url("java\nscript:x")
