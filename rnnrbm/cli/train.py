"""``rnnrbm train``."""
