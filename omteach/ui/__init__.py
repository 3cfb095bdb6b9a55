"""Presentation: one display toolkit and one module per chapter (its widgets and figures).

Importing :mod:`omteach.ui` also teaches IPython to show the domain's records (ledgers, event
logs, state tables, audit reports) as HTML tables; the domain layers themselves hold no HTML.
"""

from omteach.ui.formatters import register_html_formatters
from omteach.ui.toolkit import (
    PALETTE,
    MessagePanel,
    ProgressBar,
    error_html,
    html_table,
    message_html,
)

register_html_formatters()

__all__ = ["PALETTE", "MessagePanel", "ProgressBar", "error_html", "html_table", "message_html",
           "register_html_formatters"]
