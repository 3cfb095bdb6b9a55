"""The protocol layer: the blob store, the market's contract client, the round's state and rule,
the parties, a training run.

A chapter's notebook needs only this package for the round::

    from omteach.protocol import TrainingRun
"""

from omteach.protocol.blobs import BlobStore, blob_id
from omteach.protocol.market import Market, MarketSpec
from omteach.protocol.parties import AICompany, DataOwner
from omteach.protocol.round import Action, Phase, RoundState, Seat, next_action
from omteach.protocol.run import RoundReport, TrainingRun, baseline_curves

__all__ = ["AICompany", "Action", "BlobStore", "DataOwner", "Market", "MarketSpec", "Phase",
           "RoundReport", "RoundState", "Seat", "TrainingRun", "baseline_curves", "blob_id",
           "next_action"]
