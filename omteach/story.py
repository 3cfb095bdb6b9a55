"""The story of the course, defined once: who is in it, and the constants of its world.

AI Inc. wants to train a model on data it may not see; Joe, Jane and Jack own that data. Every
module that needs a name, the length of a day or a model's name takes it from here.
"""

from __future__ import annotations

COMPANY = "AI Inc."
"""The company that trains the model and pays the bounties."""

OWNERS = ("Joe", "Jane", "Jack")
"""The data owners of the single-kernel chapters, in the order they get their data."""

CAST = (COMPANY, *OWNERS)
"""Everyone in the course, in the order they get the chain's first accounts."""

DAY = 24 * 3600
"""Seconds in a day: contracts count deadlines in seconds."""

DIGITS_MODEL = "digits-mlp-v1"
"""The model the data-use agreement of chapter 2 is about."""

__all__ = ["CAST", "COMPANY", "DAY", "DIGITS_MODEL", "OWNERS"]
