"""Shared helpers for the contract tests: the agreement is deployed as the course deploys it."""

from __future__ import annotations

from omteach.chain import deploy_agreement
from omteach.story import DAY
from omteach.story import DIGITS_MODEL as MODEL

__all__ = ["DAY", "MODEL", "deploy_agreement"]
