"""Bundled demo dataset: synthetic face videos in the CAS(ME)^2 raw layout with planted,
AU-driven macro- and micro-expressions (``python -m dataset.mesynth --out DIR``)."""
from dataset.mesynth.generate import generate_dataset

__all__ = ["generate_dataset"]
