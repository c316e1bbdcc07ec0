"""The shipped sample corpus data/bach-chorales/ (see data/README.md).

Regenerate it with scripts/make_sample_data.sh; these checks need only
pretty_midi, not music21.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pretty_midi = pytest.importorskip("pretty_midi")

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "bach-chorales"
FILES = sorted(SAMPLE.glob("*.mid"))
C2, C6 = 36, 84


def test_sample_has_30_chorales():
    assert len(FILES) == 30, f"expected 30 .mid files in {SAMPLE}, found {len(FILES)}"
    for f in FILES:
        assert re.fullmatch(r"bwv[0-9][0-9a-z.\-]*\.mid", f.name), f.name


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_sample_file_is_a_four_voice_chorale(path):
    pm = pretty_midi.PrettyMIDI(str(path))
    assert not any(inst.is_drum for inst in pm.instruments), "drum track"
    voices = [inst for inst in pm.instruments if inst.notes]
    assert len(voices) >= 4, f"{len(voices)} instruments with notes"
    pitches = [n.pitch for inst in voices for n in inst.notes]
    assert C2 <= min(pitches) and max(pitches) <= C6, (min(pitches), max(pitches))
    # one steady tempo and a notated meter, so beat-based quantisation works
    _, tempi = pm.get_tempo_changes()
    assert len(tempi) == 1
    assert pm.time_signature_changes
    assert pm.get_end_time() > 10.0
