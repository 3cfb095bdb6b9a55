"""pytest set-up for the whole repository (tests/ and the notebooks nbval runs): nbval's wait
for a cell's outputs, made fit for a loaded machine. The chains' fixtures are in
tests/conftest.py."""

from __future__ import annotations

NBVAL_OUTPUT_TIMEOUT_S = 60
"""How long nbval waits for each of a cell's outputs after the kernel replied. nbval hard-codes
5 s; on two cores shared by the suite's workers, their kernels and node processes, a kernel
busy with a background thread (the classroom's dashboard, a progress bar) can take longer to
flush its last message, and the cell failed although its outputs were right. The cell's own
time limit (--nbval-cell-timeout) is unchanged."""


def _patient_nbval() -> None:
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: no notebook is collected anyway
        return
    if getattr(IPyNbCell.__init__, "_omteach_patient", False):
        return
    original = IPyNbCell.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.output_timeout = max(getattr(self, "output_timeout", 0), NBVAL_OUTPUT_TIMEOUT_S)

    __init__._omteach_patient = True
    IPyNbCell.__init__ = __init__


_patient_nbval()
