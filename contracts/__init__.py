"""The course's Vyper contracts, shipped as package data (``omteach.contracts`` in a wheel)."""
