"""The learning layer: the digits, the models, the attacks on them and the defences.

Modules that need torch import it inside their functions, so ``import omteach.learning`` is cheap.
A chapter imports what it shows from here.
"""

from omteach.learning.attacks import (
    ATTACKS,
    binning_attack,
    count_recovered,
    crafted_model,
    deep_leakage,
    gradient,
    invert_first_layer,
    psnr,
)
from omteach.learning.data import Dataset, load_digits_dataset, seat_shard, split_digits
from omteach.learning.defences import (
    DEFENCES,
    DELTA,
    defended_accuracy,
    dp_accuracy,
    dp_noise,
    epsilon,
    leakage,
)
from omteach.learning.encrypted_model import EncryptedModelRun, linear_accuracy, train_plain
from omteach.learning.model import ModelSpec, accuracy, build_model, get_weights, train_locally

__all__ = [
    "ATTACKS", "DEFENCES", "DELTA", "Dataset", "EncryptedModelRun", "ModelSpec", "accuracy",
    "binning_attack", "build_model", "count_recovered", "crafted_model", "deep_leakage",
    "defended_accuracy", "dp_accuracy", "dp_noise", "epsilon", "get_weights", "gradient",
    "invert_first_layer", "leakage", "linear_accuracy", "load_digits_dataset", "psnr",
    "seat_shard", "split_digits", "train_locally", "train_plain",
]
