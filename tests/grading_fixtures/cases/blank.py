"""The released exercise, handed in untouched: every check scores 0."""
