"""Features: spectrograms, recording effects, and the cache that computes them once."""
