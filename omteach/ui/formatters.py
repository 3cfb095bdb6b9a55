"""HTML for the domain's records in the notebook, registered with IPython by type name.

The domain layers show themselves as plain text only; here each record type gets an HTML form.
Registering by name imports nothing: a chapter that never makes a ledger never loads it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

# (module of the type, type name) → (ui module, function that renders it as HTML)
HTML_FORMS: dict[tuple[str, str], tuple[str, str]] = {
    ("omteach.chain.records", "EventLog"): ("omteach.ui.ch02", "event_log_html"),
    ("omteach.chain.records", "StateTable"): ("omteach.ui.ch02", "state_table_html"),
    ("omteach.chain.records", "BlockRecord"): ("omteach.ui.ch02", "block_html"),
    ("omteach.ledger", "Ledger"): ("omteach.ui.ch03", "ledger_html"),
    ("omteach.ledger", "Network"): ("omteach.ui.ch03", "network_html"),
    ("omteach.ledger", "Consensus"): ("omteach.ui.ch03", "consensus_html"),
    ("omteach.learning.defences", "AuditReport"): ("omteach.ui.ch05", "audit_html"),
}


def _lazy(module: str, function: str) -> Callable[[Any], str]:
    def render(obj: Any) -> str:
        return getattr(importlib.import_module(module), function)(obj)
    return render


def register_html_formatters() -> bool:
    """Tell the running IPython how to show each record as HTML; False outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    if shell is None:
        return False
    formatter = shell.display_formatter.formatters["text/html"]
    for (module, name), (ui_module, function) in HTML_FORMS.items():
        formatter.for_type_by_name(module, name, _lazy(ui_module, function))
    return True


def render_html(obj: Any) -> str:
    """The HTML form of a record (what the notebook shows), for tests and widgets."""
    key = (type(obj).__module__, type(obj).__name__)
    if key not in HTML_FORMS:
        raise TypeError(f"no HTML form for {key[1]}")
    return _lazy(*HTML_FORMS[key])(obj)
