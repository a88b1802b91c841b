"""Incremental detokenisation and text-level stop sequences, with a toy one-char-per-id decoder."""

from __future__ import annotations

from collections.abc import Sequence

from local_backend.text_stream import TextStream

ALPHABET = "abcdefghijklmnopqrstuvwxyz .!"


def decode(ids: Sequence[int]) -> str:
    return "".join(ALPHABET[i] for i in ids)


def ids(text: str) -> list[int]:
    return [ALPHABET.index(c) for c in text]


def run(text: str, stop: Sequence[str]) -> tuple[list[str], TextStream]:
    stream = TextStream(decode, stop)
    deltas = []
    for token in ids(text):
        deltas.append(stream.push(token))
        if stream.stopped:
            break
    deltas.append(stream.flush())
    return deltas, stream


def test_without_stop_every_token_is_emitted_at_once() -> None:
    deltas, stream = run("hello", [])
    assert deltas == ["h", "e", "l", "l", "o", ""]
    assert stream.text == "hello" and not stream.stopped


def test_stop_sequence_is_cut_and_never_emitted() -> None:
    deltas, stream = run("hello world. more", ["world"])
    assert "".join(deltas) == "hello "
    assert stream.stopped and stream.text == "hello "


def test_partial_stop_prefix_is_held_back_then_released() -> None:
    deltas, stream = run("a wox wow", ["wow"])
    # "wo" was held back until "x" proved it was not the stop sequence
    assert deltas[:5] == ["a", " ", "", "", "wox"]
    assert "".join(deltas) == "a wox "
    assert stream.stopped


def test_earliest_of_several_stops_wins() -> None:
    _, stream = run("one two three", ["three", "two"])
    assert stream.text == "one "


def test_held_back_tail_is_flushed_at_the_end() -> None:
    deltas, stream = run("abc wo", ["wow"])
    assert deltas[-1] == "wo"
    assert "".join(deltas) == "abc wo" and not stream.stopped


def test_incomplete_characters_wait_for_the_next_token() -> None:
    # A decoder that yields U+FFFD until both halves of a "character" (ids 7, 8) are present.
    def byte_decode(token_ids: Sequence[int]) -> str:
        out, pending = "", False
        for t in token_ids:
            if t == 7:
                pending = True
            elif t == 8 and pending:
                out, pending = out + "é", False
            else:
                out += "x"
        return out + ("\ufffd" if pending else "")

    stream = TextStream(byte_decode)
    assert stream.push(1) == "x"
    assert stream.push(7) == ""
    assert stream.push(8) == "é"
    assert stream.text == "xé"
