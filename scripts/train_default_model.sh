#!/usr/bin/env bash
# Rebuild models/default.npz from installable packages only: every four-part Bach
# chorale in the music21 corpus (pip extra [data]), C4-B6, 4 steps per beat,
# transposed to C major / A minor, 30 epochs of RBM pretraining, then 60 epochs of
# BPTT with CD chains started at the previous frame, a count bias (a learned energy
# per number of notes) and a slowly decaying rate.
# About 8 minutes on a quiet 2-core machine. See models/README.md for why these settings.
#   WORK=runs/default scripts/train_default_model.sh
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-runs/default}
pip install -q -e ".[data]"
python scripts/export_chorales.py "$WORK/chorales" --all --clean
rnnrbm ingest "$WORK/chorales" -o "$WORK/chorales.npz" --steps-per-beat 4 --transpose-to-c
time rnnrbm train "$WORK/chorales.npz" -o "$WORK/default.npz" --gradient bptt --hidden 150 --recurrent 64 --cd-k 25 \
    --cd-start previous --count-bias --pretrain-epochs 30 --negative-weight 0 --epochs 60 --patience 60 --lr-decay 0.95 --seed 1
cp "$WORK/default.npz" models/default.npz
python scripts/sample_quality.py models/default.npz "$WORK/chorales.npz"
