#!/usr/bin/env python3
"""Export J.S. Bach's four-part chorales from the music21 corpus to MIDI files.

Usage::

    python scripts/export_chorales.py OUT_DIR --all              # every 4-part chorale
    python scripts/export_chorales.py OUT_DIR --limit 30         # the shipped sample
    python scripts/export_chorales.py OUT_DIR --skip-first 30 --limit 10

Needs music21 (``pip install -e ".[data]"``) and mido (a core dependency).

What gets exported, deterministically
-------------------------------------
Candidates are the MusicXML files (``.mxl``/``.xml``) of music21's ``bach``
corpus folder whose names start with ``bwv``, sorted naturally by BWV number
(``bwv2.6`` < ``bwv10.7`` < ``bwv248.12-2``). A candidate is exported when it
parses and consists of exactly four parts named Soprano, Alto, Tenor and Bass;
everything else (chorales with obbligato instruments, the WTC prelude BWV 846,
...) is skipped and reported with the reason, and so is a chorale whose MIDI
would be note-for-note identical to one already exported (the corpus holds
BWV 398 twice, once as bwv197.7-a). ``--skip-first``/``--limit`` count
*exported* chorales in that order, so ``--limit 30`` gives the first 30
four-part chorales by BWV number. The three Humdrum (``.krn``) files in the
folder are left out on purpose: they carry a CCARH copyright notice reserving
derivative electronic formats (see data/README.md).

The MIDI we write
-----------------
We do not use music21's MIDI writer: it puts all parts on channel 0, copies the
lyrics into meta events and repeats time/key signature events once per part.
Instead the score is converted with mido, which gives byte-identical files on
every run and machine (same music21 corpus version):

* type 1, 480 ticks per quarter note; track 0 holds the tempo and time
  signatures, tracks 1-4 hold Soprano, Alto, Tenor, Bass on channels 0-3 with
  program 52 (GM "Choir Aahs"); never channel 9 (drums).
* one tempo, quarter = ``--bpm`` (default 80). The encodings carry no authentic
  tempo, and a few carry stray ``<sound tempo>`` marks; all are ignored, and
  fermatas do not change the timing (the held note keeps its written length).
* repeats and first/second endings are expanded as performed (as music21's
  own MIDI writer does); time signatures as notated (changes included); tied
  notes are merged; grace notes (zero written duration) are dropped; velocity
  80 for every note; no lyrics, key signatures or other text.
* pickup (anacrusis) bars are written as they are notated in music21's
  offsets: the music starts at tick 0 with the full-bar time signature, so the
  downbeats of a piece with a pickup are shifted by the pickup length.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from fractions import Fraction

TICKS_PER_BEAT = 480  # per quarter note; divisible by 3 and 32
DEFAULT_BPM = 80
VELOCITY = 80
PROGRAM = 52  # General MIDI "Choir Aahs" (0-based)
VOICES = ("Soprano", "Alto", "Tenor", "Bass")
SOURCE_EXTS = (".mxl", ".xml", ".musicxml")


def natural_key(stem: str):
    """Sort key for corpus stems: numbers compare as numbers (bwv2.6 < bwv10.7)."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", stem))


def candidates():
    """(stem, path) of the bach corpus MusicXML files named bwv*, in BWV order."""
    from music21 import corpus

    out = {}
    for p in corpus.getComposer("bach"):
        name = os.path.basename(str(p))
        stem, ext = os.path.splitext(name)
        if not stem.lower().startswith("bwv") or ext.lower() not in SOURCE_EXTS:
            continue
        if stem in out:  # same chorale in two formats: keep one, deterministically
            out[stem] = min(out[stem], str(p))
        else:
            out[stem] = str(p)
    return sorted(out.items(), key=lambda kv: natural_key(kv[0]))


def _ticks(ql) -> int:
    t = Fraction(ql) * TICKS_PER_BEAT
    return int(round(t))


def score_to_midi(score, title: str = "chorale", bpm: int = DEFAULT_BPM):
    """Convert a four-part music21 score to a mido.MidiFile (see module doc)."""
    import mido
    from music21 import meter

    # Play repeats and 1st/2nd endings as performed (music21's own MIDI writer
    # does the same); without this, both endings would sound one after the other.
    score = score.expandRepeats()
    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)

    # Conductor track: one tempo and the time signatures of the top part.
    events = [(0, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))]
    last = None
    top = score.parts[0].flatten()
    for ts in top.getElementsByClass(meter.TimeSignature):
        sig = (ts.numerator, ts.denominator)
        if sig == last:
            continue
        last = sig
        events.append((_ticks(top.elementOffset(ts)), 1, mido.MetaMessage(
            "time_signature", numerator=ts.numerator, denominator=ts.denominator,
            clocks_per_click=24, notated_32nd_notes_per_beat=8)))
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("track_name", name=title))
    _append_events(conductor, events)
    mid.tracks.append(conductor)

    for channel, part in enumerate(score.parts):
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=VOICES[channel]))
        track.append(mido.Message("program_change", channel=channel, program=PROGRAM))
        part.stripTies(inPlace=True)  # our own copy, made by expandRepeats()
        flat = part.flatten()
        ev = []
        for n in flat.notes:
            if n.duration.isGrace or n.duration.quarterLength <= 0:
                continue
            start = _ticks(flat.elementOffset(n))
            end = _ticks(flat.elementOffset(n) + n.duration.quarterLength)
            for p in n.pitches:
                # note_off (0) sorts before note_on (1) at the same tick, so
                # repeated notes are not cut short.
                ev.append((end, 0, mido.Message(
                    "note_off", channel=channel, note=p.midi, velocity=0)))
                ev.append((start, 1, mido.Message(
                    "note_on", channel=channel, note=p.midi, velocity=VELOCITY)))
        _append_events(track, ev)
        mid.tracks.append(track)
    return mid


def _append_events(track, events):
    import mido

    now = 0
    for tick, _order, msg in sorted(events, key=lambda e: (e[0], e[1], _msg_key(e[2]))):
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))


def _msg_key(msg):
    return getattr(msg, "note", -1)


def fingerprint(mid) -> str:
    """Hash of everything in the file except track names (catches duplicates)."""
    import hashlib

    h = hashlib.sha256()
    for track in mid.tracks:
        for msg in track:
            if msg.type != "track_name":
                h.update(repr(msg).encode())
    return h.hexdigest()


def check_four_part(score) -> str | None:
    """None if the score is a four-part SATB chorale, else the reason it is not."""
    names = [(p.partName or "").strip() for p in score.parts]
    if len(names) != 4:
        return f"{len(names)} parts, not 4 ({', '.join(n or '?' for n in names)})"
    if tuple(names) != VOICES:
        return f"parts are not Soprano/Alto/Tenor/Bass ({', '.join(n or '?' for n in names)})"
    for name, part in zip(names, score.parts):
        if not any(not n.duration.isGrace for n in part.recurse().notes):
            return f"part {name} has no notes"
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="Export Bach's four-part chorales from the music21 corpus to MIDI, "
        "deterministically (BWV order, byte-identical output).")
    ap.add_argument("out_dir", help="folder to write bwv*.mid into (created if missing)")
    sel = ap.add_mutually_exclusive_group(required=True)
    sel.add_argument("--all", action="store_true", help="export every four-part chorale")
    sel.add_argument("--limit", type=int, metavar="N", help="export at most N chorales")
    ap.add_argument("--skip-first", type=int, default=0, metavar="M",
                    help="skip the first M exportable chorales (default 0)")
    ap.add_argument("--bpm", type=int, default=DEFAULT_BPM,
                    help=f"tempo, quarter notes per minute (default {DEFAULT_BPM})")
    ap.add_argument("--clean", action="store_true",
                    help="delete *.mid files in OUT_DIR that this run did not write")
    ap.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    args = ap.parse_args(argv)
    if args.limit is not None and args.limit < 0 or args.skip_first < 0:
        ap.error("--limit and --skip-first must be >= 0")

    try:
        import music21
        from music21 import converter
    except ImportError:
        print("error: music21 is not installed; run: pip install -e \".[data]\"", file=sys.stderr)
        return 2

    os.makedirs(args.out_dir, exist_ok=True)
    t0 = time.perf_counter()
    written, skipped, seen = [], [], 0
    fingerprints: dict[str, str] = {}  # note content -> first stem that had it
    for stem, path in candidates():
        if args.limit is not None and len(written) >= args.limit:
            break
        try:
            score = converter.parse(path)
            reason = check_four_part(score)
        except Exception as exc:  # a corpus file that music21 cannot parse
            reason = f"parse error: {type(exc).__name__}: {exc}"
        if reason:
            skipped.append((stem, reason))
            if not args.quiet or reason.startswith("parse error"):
                print(f"skip  {stem}: {reason}", file=sys.stderr)
            continue
        try:
            mid = score_to_midi(score, title=stem, bpm=args.bpm)
        except Exception as exc:
            skipped.append((stem, f"conversion error: {type(exc).__name__}: {exc}"))
            print(f"skip  {stem}: conversion error: {exc}", file=sys.stderr)
            continue
        fp = fingerprint(mid)
        if fp in fingerprints:  # the corpus has the same harmonisation twice
            reason = f"same notes as {fingerprints[fp]}"
            skipped.append((stem, reason))
            if not args.quiet:
                print(f"skip  {stem}: {reason}", file=sys.stderr)
            continue
        fingerprints[fp] = stem
        seen += 1
        if seen <= args.skip_first:
            continue
        out = os.path.join(args.out_dir, f"{stem}.mid")
        mid.save(out)
        written.append(out)
        if not args.quiet:
            print(f"wrote {out}")

    if args.clean:
        keep = {os.path.abspath(p) for p in written}
        for name in sorted(os.listdir(args.out_dir)):
            p = os.path.abspath(os.path.join(args.out_dir, name))
            if name.endswith(".mid") and p not in keep:
                os.remove(p)
                if not args.quiet:
                    print(f"removed {p}")

    dt = time.perf_counter() - t0
    print(f"exported {len(written)} chorales to {args.out_dir}, skipped {len(skipped)} "
          f"(music21 {music21.__version__}, {dt:.1f} s)")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
