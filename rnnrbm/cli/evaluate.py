"""``rnnrbm evaluate``."""
