"""services.text: the description's plain text, read fast where the HTML is plain."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.services import text


def _by_the_parser(html: str) -> str:
    parser = text._TextExtractor()
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.parts).split())


_PIECES = st.sampled_from(
    [
        "<p>", "</p>", "<br>", "<br/>", "<li>", "<b>", "</b>", "<a href=\"x?a=1&amp;b\">", "</a>",
        "<P CLASS=x>", "<p title='a>b'>", "<!-- c -->", "<script>", "</script>", "<style>",
        "&amp;", "&nbsp;", "&#169;", "&lt;", "&bogus;", "<", ">", "'", '"', " ", "\n", "x", "é",
        "word", "<p\n>", "<img src='i.png' />",
    ]
)  # fmt: skip


@given(st.lists(_PIECES, max_size=30).map("".join))
def test_the_fast_reading_gives_what_the_html_parser_gives(html: str) -> None:
    assert text.html_to_text(html) == _by_the_parser(html)


def test_plain_html_takes_the_fast_path_and_the_rest_the_parser() -> None:
    assert text._simple_html_to_text('<p class="a">Air &amp; noise</p><ul><li>x</ul>') == (
        "Air & noise x"
    )
    assert text._simple_html_to_text("<!-- note --><p>x</p>") is None
    assert text._simple_html_to_text("<script>x</script>") is None
    assert text._simple_html_to_text("1 < 2") is None
