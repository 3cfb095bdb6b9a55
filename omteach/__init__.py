"""omteach: support code for the course notebooks.

The notebooks show the ideas; this package does the plumbing. Heavy modules (torch, web3,
vyper) are imported lazily by the submodules that need them, so ``import omteach`` is cheap.
"""

from omteach.errors import OmteachError

__all__ = ["OmteachError", "__version__"]
__version__ = "0.1.0"
