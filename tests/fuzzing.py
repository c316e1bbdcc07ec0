"""Hostile MIDI bytes for the ingest fuzz test and ``scripts/fuzz_ingest.py``.

:func:`hostile_midi` is a hypothesis strategy: a Standard MIDI File encoded
here byte by byte from random events (so values mido would refuse to write can
appear: data bytes > 127, tempo 0, time signatures with denominator 2**255,
deltas up to the 28-bit maximum, SMPTE or zero time division), then damaged
by a few byte-level mutations: bit flips, overwritten bytes, truncation,
inserted junk and whole inserted chunks, repeated slices, absurd chunk lengths.
"""

from __future__ import annotations

from hypothesis import strategies as st

MAX_DELTA = 0x0FFFFFFF  # the largest variable-length quantity a MIDI file can hold


def varlen(value: int) -> bytes:
    """MIDI variable-length quantity (7 bits per byte, high bit = more follows)."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def chunk(tag: bytes, data: bytes, length: int | None = None) -> bytes:
    return tag + (len(data) if length is None else length).to_bytes(4, "big") + data


def smf(tracks: list[list[tuple[int, bytes]]], division: int = 96, fmt: int = 1) -> bytes:
    """A MIDI file from tracks of (absolute tick, event bytes); end-of-track added."""
    out = chunk(b"MThd", fmt.to_bytes(2, "big") + len(tracks).to_bytes(2, "big") + division.to_bytes(2, "big"))
    for events in tracks:
        body, now = b"", 0
        for tick, event in sorted(events, key=lambda e: e[0]):
            body += varlen(min(tick - now, MAX_DELTA)) + event
            now = tick
        out += chunk(b"MTrk", body + b"\x00\xff\x2f\x00")
    return out


def rarely(common: st.SearchStrategy, rare: st.SearchStrategy, one_in: int = 8) -> st.SearchStrategy:
    """``rare`` one time in ``one_in``, else ``common`` (to which hypothesis shrinks)."""
    return st.integers(0, one_in - 1).flatmap(lambda i: rare if i == one_in - 1 else common)


byte = st.integers(0, 255)
data_byte = rarely(st.integers(0, 127), byte, 64)  # sometimes > 127
tick = rarely(st.integers(0, 2000), st.integers(0, MAX_DELTA), 16)  # sometimes absurd


@st.composite
def notes(draw) -> list[tuple[int, bytes]]:
    start, length = draw(st.integers(0, 2000)), draw(rarely(st.integers(0, 400), tick))
    channel, pitch, velocity = draw(st.integers(0, 15)), draw(data_byte), draw(rarely(st.integers(1, 127), byte, 64))
    return [(start, bytes([0x90 | channel, pitch, velocity])), (start + length, bytes([0x80 | channel, pitch, 0]))]


def meta(kind: int, data: bytes) -> bytes:
    return bytes([0xFF, kind]) + varlen(len(data)) + data


other_events = st.tuples(tick, st.one_of(
    rarely(st.integers(200_000, 2_000_000), st.sampled_from([0, 1, 0xFFFFFF]) | st.integers(0, 0xFFFFFF), 4).map(
        lambda t: meta(0x51, t.to_bytes(3, "big"))),  # tempo, 0 to 16.7 s per quarter
    st.tuples(rarely(st.integers(1, 12), byte), rarely(st.integers(0, 4), byte), byte, byte).map(
        lambda t: meta(0x58, bytes(t))),  # time signature: numerator, log2 denominator, clocks, 32nds
    rarely(st.tuples(st.integers(-7, 7).map(lambda k: k & 0xFF), st.integers(0, 1)), st.tuples(byte, byte), 4).map(
        lambda t: meta(0x59, bytes(t))),  # key signature: sharps (signed), minor
    st.tuples(st.integers(0, 15), data_byte).map(lambda t: bytes([0xB0 | t[0], 64, t[1]])),  # sustain pedal
    st.tuples(st.integers(0, 15), data_byte).map(lambda t: bytes([0xC0 | t[0], t[1]])),  # program change
    st.tuples(st.integers(0, 15), data_byte, data_byte).map(lambda t: bytes([0xE0 | t[0], t[1], t[2]])),
    st.binary(max_size=40).map(lambda b: meta(0x05, b)),  # lyrics
    st.binary(max_size=20).map(lambda b: b"\xf0" + varlen(len(b) + 1) + b + b"\xf7"),  # sysex
    rarely(st.nothing(), st.tuples(byte, st.integers(0, MAX_DELTA), st.binary(max_size=8)).map(
        lambda t: bytes([0xFF, t[0]]) + varlen(t[1]) + t[2])),  # a meta event whose length is wrong
))


@st.composite
def tracks(draw) -> list[tuple[int, bytes]]:
    events = [e for pair in draw(st.lists(notes(), min_size=1, max_size=12)) for e in pair]
    return events + draw(st.lists(other_events, max_size=6))


def _at(draw, data: bytes) -> int:
    return draw(st.integers(0, 2**16)) % (len(data) + 1)


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """``data`` after 0-4 random byte-level mutations."""
    for op in draw(st.lists(st.sampled_from(["flip", "set", "truncate", "insert", "chunk", "repeat", "length"]),
                            max_size=draw(st.sampled_from([0, 1, 4])))):
        at = _at(draw, data)
        if op == "flip" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([data[at] ^ (1 << draw(st.integers(0, 7)))]) + data[at + 1:]
        elif op == "set" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([draw(byte)]) + data[at + 1:]
        elif op == "truncate":
            data = data[:at]
        elif op == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
        elif op == "chunk":
            tag = draw(st.sampled_from([b"MTrk", b"MThd", b"RIFF", b"XFIH"]))
            body = draw(st.binary(max_size=64))
            length = draw(st.none() | st.sampled_from([0, 1, 6, 0x7FFFFFFF, 0xFFFFFFFF]) | st.integers(0, 2**32 - 1))
            data = data[:at] + chunk(tag, body, length) + data[at:]
        elif op == "repeat":
            size = draw(st.integers(1, 64))
            data = data[:at] + data[at:at + size] * draw(st.integers(2, 200)) + data[at:]
        elif op == "length":
            heads = [i + 4 for tag in (b"MThd", b"MTrk") for i in _find_all(data, tag)]
            if heads:
                at = heads[draw(st.integers(0, len(heads) - 1))]
                length = draw(st.sampled_from([0, 1, 5, 0x7FFFFFFF, 0xFFFFFFFF]) | st.integers(0, 2**32 - 1))
                data = data[:at] + length.to_bytes(4, "big") + data[at + 4:]
    return data


def _find_all(data: bytes, tag: bytes) -> list[int]:
    found, at = [], data.find(tag)
    while at >= 0:
        found.append(at)
        at = data.find(tag, at + 1)
    return found


@st.composite
def hostile_midi(draw) -> bytes:
    """A MIDI file built from random (often absurd) events, then mutated."""
    division = draw(rarely(st.sampled_from([96, 480, 1, 0x7FFF]), st.integers(0, 0xFFFF)))
    data = smf(draw(st.lists(tracks(), min_size=1, max_size=3)), division, draw(st.sampled_from([1, 0, 2, 7])))
    return draw(mutated(data))
