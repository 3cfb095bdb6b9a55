"""The learning layer: the digits, the models, the attacks on them and the defences.

Modules that need torch import it inside their functions, so ``import omteach.learning`` is cheap.
"""

from omteach.learning.data import Dataset, load_digits_dataset, split_digits
from omteach.learning.model import ModelSpec, accuracy, build_model, get_weights, train_locally

__all__ = ["Dataset", "ModelSpec", "accuracy", "build_model", "get_weights",
           "load_digits_dataset", "split_digits", "train_locally"]
