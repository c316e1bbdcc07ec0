"""Shipped model checkpoints (see README.md); a package so installed code can find them."""
