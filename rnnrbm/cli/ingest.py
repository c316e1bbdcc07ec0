"""``rnnrbm ingest`` and ``rnnrbm info`` (implemented in the ingest issue)."""
