"""Widgets for chapter 2: a contract console and a state-and-event viewer."""

from __future__ import annotations

import html
from decimal import Decimal, InvalidOperation
from typing import Any

import ipywidgets as widgets

from omteach.chain import BlockRecord, DeployedContract, EventLog, StateTable, TxResult
from omteach.errors import ContractRevertError, InvalidValueError, OmteachError
from omteach.text import short_hex
from omteach.ui.toolkit import MessagePanel, html_table, panel_text


def _whole_number(text: str, what: str) -> int:
    """A whole number as typed: digits with ``_`` or ``,`` between them, or an exact power-of-ten
    form such as ``1e3``; anything else (``1.5``, ``ten``) is refused, never rounded."""
    cleaned = text.strip().replace("_", "").replace(",", "")
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number != number.to_integral_value():
        raise InvalidValueError(f"expected a whole number for {what}, got {text.strip()!r}")
    return int(number)


def _check_range(value: int, kind: str, what: str) -> int:
    """Refuse a number the ABI type ``kind`` cannot hold, before web3 sees it (its own message
    is about hex strings and encodings)."""
    bits = int(kind.removeprefix("u").removeprefix("int") or 256)
    low, high = (0, 2**bits - 1) if kind.startswith("uint") else (-(2 ** (bits - 1)),
                                                                 2 ** (bits - 1) - 1)
    if kind.startswith("uint") and value < 0:
        raise InvalidValueError(
            f"{what} cannot be negative ({kind} holds whole numbers from 0 up), got {value}: "
            "type 0 or a positive whole number")
    if not low <= value <= high:
        def shown(x: int) -> str:
            return f"{x:,}" if abs(x) < 10**15 else f"{x:.3e}"
        raise InvalidValueError(f"{what} holds {shown(low)} to {shown(high)}, got {shown(value)}:"
                                " type a number in that range")
    return value


def parse_wei(text: str) -> int:
    """The amount of wei a student typed: a whole number, at least 0 (an empty box is 0).

    ``1e3`` is 1,000 wei exactly; ``-5`` and ``1.5`` are refused with a reason, since wei is the
    smallest unit and a transaction cannot take money from the contract by sending less than 0.
    """
    if not text.strip():
        return 0
    value = _whole_number(text, "the wei to send")
    if value < 0:
        raise InvalidValueError(
            f"cannot send {value} wei: an amount sent with a transaction is 0 or more. To take "
            "money out of the contract, call the function that pays it (refund_escrow)")
    return value


def parse_argument(kind: str, text: str) -> Any:
    """Turn what a student typed into a value of the ABI type ``kind`` (names stay names)."""
    text = text.strip()
    if kind.startswith(("uint", "int")):
        what = f"{'an' if kind.startswith('int') else 'a'} {kind}"
        return _check_range(_whole_number(text, what), kind, what)
    if kind == "bool":
        if text.lower() in ("true", "yes", "1"):
            return True
        if text.lower() in ("false", "no", "0"):
            return False
        raise InvalidValueError(f"expected True or False, got {text!r}")
    return text


class StateViewer(widgets.VBox):
    """A contract's state table and its event log, refreshed after every change."""

    def __init__(self, contract: DeployedContract):
        self._contract = contract
        self._state = MessagePanel()
        self._events = MessagePanel()
        super().__init__(children=[
            widgets.HTML("<b>State</b> (every public variable, where it is stored, its value)"),
            self._state,
            widgets.HTML("<b>Event log</b> (everything that changed, oldest first)"),
            self._events,
        ])
        self.refresh()

    def refresh(self) -> None:
        """Read the state and the events again from the chain."""
        try:
            state, events = self._contract.state(), self._contract.events()
            self._state.show_html(repr(state), state_table_html(state))
            self._events.show_html(repr(events), event_log_html(events))
        except OmteachError as exc:
            self._state.show_error(exc)

    state_text = panel_text("_state", "The state table as text (for tests).")

    events_text = panel_text("_events", "The event log as text (for tests).")

    def __repr__(self) -> str:
        return f"StateViewer({self._contract.name})"


class ContractConsole(widgets.VBox):
    """Pick an actor and a function, fill in its arguments, send; see what happened.

    A change shows its block and events; a refusal shows the contract's reason; a view
    function shows its value. The state viewer below refreshes after each send.
    """

    def __init__(self, contract: DeployedContract, *, actor: str = "AI Inc."):
        self._contract = contract
        chain = contract.chain
        self._actor = widgets.Dropdown(options=list(chain.accounts), value=actor,
                                       description="Actor")
        self._function = widgets.Dropdown(options=sorted(contract.functions),
                                          description="Function")
        self._args_box = widgets.VBox()
        # A text box read by parse_wei, not an IntText: the browser's number box turns what it
        # cannot read (1e30, -5 past the bounds) into some other number without a word.
        self._value = widgets.Text(value="0", description="Wei to send", placeholder="0")
        self._send_button = widgets.Button(description="Send", button_style="primary",
                                           icon="paper-plane")
        self._result = MessagePanel("Pick an actor and a function, then Send.")
        self.viewer = StateViewer(contract)
        self._arg_inputs: list[tuple[dict, widgets.Text]] = []
        self._function.observe(lambda _: self._show_arguments(), names="value")
        self._send_button.on_click(lambda _: self._on_send())
        self._show_arguments()
        super().__init__(children=[
            widgets.HBox([self._actor, self._function]), self._args_box,
            widgets.HBox([self._value, self._send_button]), self._result, self.viewer])

    def _show_arguments(self) -> None:
        abi = self._contract.functions[self._function.value]
        self._arg_inputs = [
            (spec, widgets.Text(description=spec["name"], placeholder=spec["type"],
                                style={"description_width": "initial"}))  # "model_name" uncut
            for spec in abi["inputs"]]
        self._args_box.children = [w for _, w in self._arg_inputs]
        payable = abi.get("stateMutability") == "payable"
        self._value.disabled = not payable
        if not payable:
            self._value.value = "0"

    def _on_send(self) -> None:
        try:
            args = [parse_argument(spec["type"], w.value) for spec, w in self._arg_inputs]
            value = parse_wei(self._value.value)
        except OmteachError as exc:
            self._result.show_error(exc)
            return
        self.send(self._actor.value, self._function.value, *args, value=value)

    def send(self, actor: str, function: str, *args: Any, value: int = 0) -> Any:
        """Do what the Send button does; returns the result, the refusal, or the error."""
        contract = self._contract
        try:
            self._check_value(actor, value)
            if function in contract.functions and contract.is_view(function):
                out: Any = contract.call(function, *args, sender=actor)
                self._result.show(f"{function}() = {self._readable(function, out)}  (a free "
                                  "read: no transaction, nothing changes)")
                return out
            out = contract.transact(function, *args, sender=actor, value=value)
        except ContractRevertError as exc:
            self._result.show(
                f"✖ refused: {exc.reason}\n(nothing changed: a refused transaction leaves the "
                "state as it was)", kind="error")
            return exc
        except OmteachError as exc:
            self._result.show_error(exc)
            return exc
        assert isinstance(out, TxResult)
        self._result.show(repr(out), kind="ok")
        self.viewer.refresh()
        return out

    def _check_value(self, actor: str, value: int) -> None:
        """Refuse an amount no transaction can carry, with the reason, before the chain sees it:
        a negative one (web3's own error would be about hex strings) or more than the actor
        has (the node's would be about gas)."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidValueError(f"the wei to send must be a whole number, got {value!r}")
        if value < 0:
            parse_wei(str(value))  # raises with the reason
        if value:
            balance = self._contract.chain.balance(actor)
            if value >= balance:
                raise InvalidValueError(
                    f"{actor} has {balance:,} wei and cannot send {value:,} (the transaction's "
                    "gas is paid from the same balance): send less")

    def _readable(self, function: str, out: Any) -> str:
        """A view's result as the state table shows it: an address by its owner's name."""
        outputs = self._contract.functions[function].get("outputs", [])
        if len(outputs) == 1 and outputs[0]["type"] == "address" and isinstance(out, str):
            name = self._contract.chain.name_of(out)
            return name if name.startswith("0x") else f"{name} ({short_hex(out, 6)})"
        return str(out)

    result_text = panel_text("_result", "The last result as text (for tests and exercises).")

    def __repr__(self) -> str:
        return f"ContractConsole({self._contract.name})"


# -- HTML forms of the chain's records (registered in omteach.ui.formatters) ------------------


def event_log_html(log: EventLog) -> str:
    """An event log as a table, oldest first."""
    return html_table(log.header, log.rows()) if log else "<i>(no events)</i>"


def state_table_html(state: StateTable) -> str:
    """A contract's state as a table under the contract's name."""
    return f"<b>{html.escape(state.contract)}</b>" + html_table(state.header, state.rows)


def block_html(block: BlockRecord) -> str:
    """A block's fields as a two-column table."""
    return html_table(("field", "value"), block.rows())
