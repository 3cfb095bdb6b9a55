"""The project's own exception and warning types.

Every error omteach raises on purpose is an :class:`OmteachError`, with a message that says what
went wrong and what to do. Notebook widgets catch ``OmteachError`` and show its message.
"""


class OmteachError(Exception):
    """Base class of every error omteach raises on purpose."""


class InvalidValueError(OmteachError, ValueError):
    """A value cannot be encrypted or packed (NaN, infinity, not a number, wrong shape)."""


class KeyMismatchError(OmteachError, ValueError):
    """Ciphertexts or keys from different key pairs were mixed."""


class PlaintextOverflowError(OmteachError, OverflowError):
    """A value, a packed slot or a decrypted result does not fit where it has to go."""


class HeadroomExceededError(PlaintextOverflowError):
    """More packed contributions were added than the codec left headroom bits for."""


class UnsupportedOperationError(OmteachError, TypeError):
    """An operation the scheme cannot do, e.g. multiplying two Paillier ciphertexts."""


class WeakKeyWarning(UserWarning):
    """A key size fit for teaching but not for protecting real data."""


class ChainError(OmteachError):
    """The chain cannot do what was asked: no node at the URL, unknown account or contract."""


class ContractCompileError(ChainError):
    """A Vyper contract does not compile; the message carries the compiler's explanation."""


class ContractRevertError(ChainError):
    """A contract refused a call; ``reason`` is the contract's own revert message."""

    def __init__(self, message: str, *, reason: str, function: str = "", sender: str = ""):
        super().__init__(message)
        self.reason = reason
        self.function = function
        self.sender = sender


class LedgerError(OmteachError):
    """A teaching-ledger operation was refused (bad block index, unknown replica, ...)."""


class BlobError(OmteachError):
    """A blob-store operation failed: unknown id, or content that does not match its id."""


class BlobIntegrityError(BlobError):
    """A blob's bytes do not hash to its id: it was tampered with or corrupted."""


class SetupError(OmteachError):
    """The course cannot be set up or started here (Python too old, no checkout, no .venv)."""


class NonRandomCiphertextError(OmteachError, ValueError):
    """Ciphertexts that are visibly not random (randomness r = ±1, or repeated): a sender who
    chose the randomness could read the receiver's data through it, so they are refused."""


class ProtocolError(OmteachError):
    """A step of the training round cannot be done as asked (wrong round, not a participant)."""


class AggregationError(ProtocolError):
    """The round's submissions do not add up to a sum that can be decrypted: refused, not decoded.

    Raised when a blob's fields disagree with the spec on chain, when a participant is missing
    and no dropout recovery was done, or when the decrypted sum does not decode.
    """


class DropoutRecoveryError(AggregationError):
    """The dropped owners' masks cannot be removed: too few survivors, or wrong revealed shares."""


class SecureAggregationError(OmteachError):
    """A step of secure aggregation (masks, key shares, reveals) was refused."""


class ShareRejectedError(SecureAggregationError, ValueError):
    """A sealed key share does not open: it was altered, it is addressed to someone else, it
    belongs to another round, or it holds the wrong number of bytes. Nothing in it is used."""


class RevealRefusedError(SecureAggregationError):
    """An honest participant refuses a reveal request: it names a participant both as dropped and
    as submitted (or asks, later, for the other kind of share of someone), lists too few
    survivors, or leaves the survivors' graph in pieces. Nothing at all is revealed for it."""


class RepositoryAddressError(OmteachError, ValueError):
    """Not a GitHub repository address (``OWNER/NAME``) the launch links can point at, or no
    address to be found (no argument and no ``origin`` remote)."""


class WaitTimeoutError(OmteachError, TimeoutError):
    """A wait (:func:`omteach.waiting.wait_until`) ran out of time; ``what`` names what it
    waited for, ``waited`` how many seconds it waited."""

    def __init__(self, message: str, *, what: str = "", waited: float = 0.0):
        super().__init__(message)
        self.what = what
        self.waited = waited


class RoundTimeoutError(ProtocolError, WaitTimeoutError):
    """A step of the training round waited too long for the other side (owners, AI Inc.)."""


class ChainTimeoutError(ChainError, WaitTimeoutError):
    """The chain did not get where it was waited for in time (a node starting, ether arriving)."""


class GateRefusal(ChainError):
    """The class's gate refused a request (or a handler of the gate refuses one).

    ``code`` is the JSON-RPC error code the student's client receives; the message says what was
    refused and what to do instead.
    """

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class HubError(OmteachError):
    """The class hub cannot start or serve as asked: not root, a malformed class list, a port
    already in use, a missing tool (configurable-http-proxy, anvil, ip)."""
