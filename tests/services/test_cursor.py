"""The opaque `after` cursor: round trips, refuses anything it did not issue, key per catalogue."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.models.database import Database
from app.services.cursor import CursorCodec, InvalidCursor, codec_for, load_secret
from app.services.errors import CatalogueError

KEY = b"k" * 32


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_a_token_decodes_to_its_pk(pk: int) -> None:
    codec = CursorCodec(KEY)
    token = codec.encode(pk)
    assert codec.decode(token) == pk
    assert token.isascii() and "=" not in token and "+" not in token and "/" not in token


def test_the_token_does_not_show_the_pk_in_clear() -> None:
    token = CursorCodec(KEY).encode(12345)
    assert "12345" not in token


def test_the_token_hides_the_pk_and_the_order_of_positions() -> None:
    """Issue 16: a signed but readable pk told an anonymous harvester how many hidden rows lie
    before its position. Neither the pk's bytes nor the order of two positions show."""
    codec = CursorCodec(KEY)
    tokens = [codec.encode(pk) for pk in range(1, 257)]
    for pk, token in enumerate(tokens, start=1):
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert pk.to_bytes(8, "big") not in raw
        assert pk.to_bytes(4, "big") not in raw[-8:]
    assert tokens != sorted(tokens)
    # Tokens one position apart differ all over, not in a counter's last characters.
    assert sum(a != b for a, b in zip(tokens[0], tokens[1], strict=True)) > len(tokens[0]) // 2


@pytest.mark.parametrize(
    "token",
    ["", "abc", "!!!!", "a" * 200, "AQAAAAAAAAAD", "é" * 10, "AQAAAAAAAAAD2mUEgkVNITyAVn58JavtC"],
)
def test_malformed_tokens_are_invalid_cursors(token: str) -> None:
    with pytest.raises(InvalidCursor) as caught:
        CursorCodec(KEY).decode(token)
    assert isinstance(caught.value, CatalogueError)
    assert caught.value.code == "invalid_cursor"


def test_a_token_with_a_changed_pk_is_refused() -> None:
    codec = CursorCodec(KEY)
    raw = bytearray(base64.urlsafe_b64decode(codec.encode(40) + "=="))
    raw[8] = 41  # the last byte of the pk: point the cursor elsewhere, keep the old MAC
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(InvalidCursor):
        codec.decode(forged)


@given(st.integers(min_value=0, max_value=2**40), st.data())
def test_any_single_character_change_is_refused(pk: int, data: st.DataObject) -> None:
    codec = CursorCodec(KEY)
    token = codec.encode(pk)
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 2))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    replacement = data.draw(st.sampled_from(alphabet).filter(lambda c: c != token[position]))
    tampered = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(InvalidCursor):
        codec.decode(tampered)


def test_another_key_does_not_accept_the_token() -> None:
    token = CursorCodec(KEY).encode(7)
    with pytest.raises(InvalidCursor):
        CursorCodec(b"x" * 32).decode(token)


def test_the_secret_is_created_once_and_kept(database: Database) -> None:
    first = load_secret(database)
    assert len(bytes.fromhex(first)) == 32
    assert load_secret(database) == first
    token = codec_for(database).encode(99)
    assert codec_for(database).decode(token) == 99


def test_the_secret_survives_reopening_and_differs_between_catalogues(tmp_path: Path) -> None:
    one = Database.open(tmp_path / "one.sqlite")
    token = codec_for(one).encode(5)
    one.dispose()
    reopened = Database.open(tmp_path / "one.sqlite")
    other = Database.open(tmp_path / "other.sqlite")
    try:
        assert codec_for(reopened).decode(token) == 5
        with pytest.raises(InvalidCursor):
            codec_for(other).decode(token)
    finally:
        reopened.dispose()
        other.dispose()
