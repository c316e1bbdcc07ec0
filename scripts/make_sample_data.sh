#!/usr/bin/env bash
# Regenerate data/bach-chorales/ byte for byte: the first 30 four-part Bach chorales of
# the music21 corpus in BWV order (needs: pip install -e ".[data]"). See data/README.md.
set -euo pipefail
cd "$(dirname "$0")/.." && exec python scripts/export_chorales.py data/bach-chorales --limit 30 --clean "$@"
