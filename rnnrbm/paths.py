"""Finding input files: folder walks that survive what scraped music collections contain.

Folders are searched recursively and symbolic links are followed, to files
and to folders, but every folder is searched once (by device and inode): a
link back to a parent folder ends the walk instead of looping, and a file
reached through two links is read once. Broken links, FIFOs and other special
files, unreadable folders and files reached twice become ``kind="skip"``
sources that carry a reason, so the ingest summary can say what was left out
and why. Names that are not valid UTF-8 are kept printable (``\\xe9``).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from rnnrbm.errors import UsageError

MIDI_SUFFIXES = (".mid", ".midi", ".kar")


@dataclass(frozen=True)
class Source:
    """One input; ``name`` (printable path relative to the folder given) names and splits it.

    ``kind`` is "midi", "json", "corpus", or "skip" for an entry that is not
    read; a skip carries its ``reason`` and ``detail``.
    """

    path: Path
    name: str
    kind: str
    reason: str = ""
    detail: str = ""


def safe_name(text: str) -> str:
    """``text`` with file-name bytes that are not UTF-8 written as ``\\xNN``.

    Python decodes such bytes to lone surrogates, which no terminal, JSON-free
    text file or UTF-8 encoder accepts; this keeps names printable and distinct.
    """
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that did not come from a file name
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def cannot_read(what: str, exc: OSError) -> tuple[str, str]:
    """(reason, detail) for a file or folder the OS refused to read; permissions get a hint."""
    if isinstance(exc, PermissionError):
        return f"cannot read {what} (permission denied; check its permissions)", exc.strerror or str(exc)
    return f"cannot read {what}", exc.strerror or str(exc)


def collect_inputs(paths: Iterable[Path], allow_corpus: bool = False) -> list[Source]:
    """Inputs in sorted path order: MIDI found by searching folders, and explicitly
    named MIDI, benchmark ``.json`` (and ``.npz`` if ``allow_corpus``) files.

    Entries found in folders that cannot be read come back as ``kind="skip"``;
    a bad path given explicitly raises :class:`UsageError`.
    """
    found: list[Source] = []
    folders: set[tuple[int, int]] = set()
    for given in map(Path, paths):
        if given.is_dir():
            found += _walk(given, folders)
            continue
        shown = safe_name(str(given))
        if given.is_symlink() and not given.exists():
            raise UsageError(f"{shown} is a broken symbolic link (its target does not exist)")
        if not given.exists():
            raise UsageError(f"{shown} does not exist")
        if not given.is_file():
            raise UsageError(f"{shown} is not a regular file (a FIFO, socket or device?)")
        suffix = given.suffix.lower()
        kind = "midi" if suffix in MIDI_SUFFIXES else "json" if suffix == ".json" \
            else "corpus" if suffix == ".npz" and allow_corpus else None
        if kind is None:
            accepted = ", ".join(MIDI_SUFFIXES + (".json",) + ((".npz",) if allow_corpus else ()))
            raise UsageError(f"{shown}: unsupported file type; give {accepted} files or folders")
        found.append(Source(given, safe_name(given.name), kind))
    return _dedupe(sorted(found, key=lambda s: str(s.path)))


def _walk(root: Path, folders: set[tuple[int, int]]) -> list[Source]:
    """MIDI files under ``root`` and skips for what cannot be read; ``folders`` holds those already searched.

    Real subfolders are searched before linked ones, so a link to a folder that
    is searched anyway is the entry reported as skipped, not the folder.
    """
    found: list[Source] = []
    real, linked = [root], []

    def name(path: Path) -> str:
        return safe_name(path.relative_to(root).as_posix())

    while real or linked:
        folder = real.pop() if real else linked.pop(0)
        try:
            info = folder.stat()
            key = (info.st_dev, info.st_ino)
            if key in folders and folder == root:  # the same folder given twice
                continue
            if key in folders:
                found.append(Source(folder, name(folder) + "/", "skip", "link to a folder already searched",
                                    "a symbolic link loop, or a second link to the same folder"))
                continue
            folders.add(key)
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            found.append(Source(folder, name(folder) + "/", "skip", *cannot_read("folder", exc)))
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                mode = os.stat(path).st_mode  # follows links
            except OSError as exc:  # a dangling or looping link, most likely
                if path.suffix.lower() in MIDI_SUFFIXES:
                    reason, detail = cannot_read("file", exc)
                    found.append(Source(path, name(path), "skip",
                                        "broken symbolic link" if entry.is_symlink() else reason, detail))
                continue
            if stat.S_ISDIR(mode):  # a folder named x.mid is a folder
                (linked if entry.is_symlink() else real).append(path)
            elif path.suffix.lower() in MIDI_SUFFIXES:
                found.append(Source(path, name(path), "midi") if stat.S_ISREG(mode) else
                             Source(path, name(path), "skip", "not a regular file", "a FIFO, socket or device"))
    return found


def _dedupe(sources: list[Source]) -> list[Source]:
    """Keep the first (in path order) of sources that are one file; later ones become skips.

    The same path named twice (a file and its folder, say) is dropped quietly;
    one file reached by two different paths (links) is reported.
    """
    first: dict[tuple[int, int], Source] = {}
    out = []
    for source in sources:
        if source.kind == "skip":
            out.append(source)
            continue
        try:
            info = source.path.stat()
        except OSError as exc:  # gone since the walk
            out.append(Source(source.path, source.name, "skip", *cannot_read("file", exc)))
            continue
        kept = first.setdefault((info.st_dev, info.st_ino), source)
        if kept is source:
            out.append(source)
        elif os.path.abspath(kept.path) != os.path.abspath(source.path):
            out.append(Source(source.path, source.name, "skip", "same file as another input",
                              f"also reached as {kept.name} (a symbolic or hard link)"))
    return out
