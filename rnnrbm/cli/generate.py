"""``rnnrbm generate``."""
