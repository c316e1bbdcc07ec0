#!/usr/bin/env bash
# Rebuild models/default.npz from installable packages only: every four-part Bach
# chorale in the music21 corpus (pip extra [data]), C4-B6, 2 steps per beat,
# transposed to C major / A minor, trained with exact RTRL. See models/README.md.
#   WORK=runs/default EPOCHS=40 scripts/train_default_model.sh
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-runs/default}
EPOCHS=${EPOCHS:-40}
pip install -q -e ".[data]"
python scripts/export_chorales.py "$WORK/chorales" --all --clean
rnnrbm ingest "$WORK/chorales" -o "$WORK/chorales.npz" --steps-per-beat 2 --transpose-to-c
time rnnrbm train "$WORK/chorales.npz" -o "$WORK/default.npz" --gradient rtrl --hidden 150 --recurrent 64 --cd-k 25 \
    --epochs "$EPOCHS" --patience 8 --lr-decay 0.5 --seed 0
cp "$WORK/default.npz" models/default.npz
python scripts/sample_quality.py models/default.npz "$WORK/chorales.npz"
