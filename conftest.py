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


# -- how `make test` shares the suite between its workers -----------------------------------------
#
# `make test` runs `pytest -n N --dist loadscope`: a group of tests runs whole in one worker (a
# module's functions, a class's methods, a notebook's cells: nbval runs one kernel's cells in
# order). This file gives xdist a scheduler of its own for that mode, which differs in two ways:
# - the groups are handed out **longest first**, by the durations an earlier run measured
#   (tests/durations.json, written by bench/suite_durations.py; `make durations`). xdist hands
#   them out in collection order or by their number of tests, so a 50-second test of one item
#   ran alone at the end while the other workers idled. Longest first is Graham's LPT rule
#   (within 4/3 of the best split); a stale or missing file only costs speed;
# - in the modules of ONE_TEST_PER_GROUP each test is a group of its own, and the modules of
#   ONE_GROUP_PER_MODULE are one group whatever their classes.
# It is a scheduler rather than xdist_group marks because `--dist loadgroup` tags test ids through
# a private attribute that pytest 9 no longer reads (every marked test ran alone).

import json  # noqa: E402
from collections import OrderedDict  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

DURATIONS = Path(__file__).resolve().parent / "tests" / "durations.json"
"""Seconds per test id (setup + call + teardown), from a `make test` run's --durations=0."""

ONE_TEST_PER_GROUP = ("tests/test_classroom_round.py", "tests/test_browser.py",
                      "tests/test_rehearsal.py")
"""Modules whose tests each form a group of their own: long tests with cheap function-scoped
fixtures (a classroom node per test; the browser's JupyterLab is per worker, about 5 s, paid
again only by a worker that had none), which as one group would keep one worker busy for two
minutes or more."""

ONE_GROUP_PER_MODULE = ("tests/test_hub.py",)
"""Modules whose classes share one expensive session fixture and so run in one worker: the
class hub (a JupyterHub, eight students' servers and a node; about 20 s of CPU to start),
which each worker running one of the module's classes would otherwise start again."""

UNMEASURED_S = 0.1
"""A test missing from tests/durations.json (new, or below the file's 0.5 s floor)."""


def group_of(nodeid: str) -> str:
    """The group ``nodeid`` runs in: its module (a function) or class (a method), a notebook
    (a cell), itself in the modules of ONE_TEST_PER_GROUP, its module in ONE_GROUP_PER_MODULE."""
    path = nodeid.split("::", 1)[0]
    if path in ONE_TEST_PER_GROUP:
        return nodeid
    if "::" not in nodeid or path.endswith(".ipynb") or path in ONE_GROUP_PER_MODULE:
        return path  # a notebook's cells run in order in one kernel
    return nodeid.rsplit("::", 1)[0]


def measured() -> dict[str, float]:
    """tests/durations.json, or nothing if it is missing or unreadable."""
    try:
        return {str(k): float(v) for k, v in json.loads(DURATIONS.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


class LongestFirst(OrderedDict):
    """xdist's queue of groups (group -> {test id: done}), whose front is the longest group by
    ``seconds`` (collection order among equals)."""

    def __init__(self, seconds: dict[str, float]):
        super().__init__()
        self.seconds = seconds

    def weight(self, tests: dict[str, bool]) -> float:
        return sum(self.seconds.get(nodeid, UNMEASURED_S) for nodeid in tests)

    def popitem(self, last: bool = True):
        if last or not self:
            return super().popitem(last)
        front = max(enumerate(self.items()), key=lambda it: (self.weight(it[1][1]), -it[0]))
        group = front[1][0]
        return group, self.pop(group)


@pytest.hookimpl(optionalhook=True)  # without xdist (a forced-kernel run, -p no:xdist) unused
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class LongestFirstScheduling(LoadScopeScheduling):
        """--dist loadscope with this file's groups, longest first."""

        def __init__(self, config, log=None):
            super().__init__(config, log)
            self.workqueue = LongestFirst(measured())

        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return LongestFirstScheduling(config, log)


# -- one execution per notebook ------------------------------------------------------------------
#
# tests/test_browser.py runs every notebook in a real JupyterLab (chapter 6's two side by side)
# and compares the outputs its kernels sent with the committed ones by nbval's own rules
# (tests/output_match.py). In a session that runs the browser test of a notebook, nbval's cells
# of the same notebook are left out: they would run every cell again, in a kernel of their own,
# for the same comparison (about 45 s of CPU for the seven notebooks). Without Chromium the
# browser test cannot run, so nothing is left out; and `pytest notebooks/` alone, or a run
# without the browser tests (-m "not browser"), runs nbval.

BROWSER_RUN = "tests/test_browser.py::test_notebook_runs_in_jupyterlab["
"""The id of the browser test of one notebook, up to its parameter (the notebook's name)."""
SIDE_BY_SIDE = "tests/test_browser.py::test_teacher_and_student_notebooks_side_by_side"
"""The browser test that runs chapter 6's two notebooks (test_browser.CLASSROOM_PAIR)."""


def compared_in_the_browser(nodeids: list[str], browser_found: bool,
                            pair: tuple[str, ...]) -> set[str]:
    """The notebooks (``notebooks/<name>``) whose browser test is among ``nodeids``; ``pair``
    are those the side-by-side test runs."""
    if not browser_found:
        return set()
    found = {"notebooks/" + n[len(BROWSER_RUN):-1] for n in nodeids if n.startswith(BROWSER_RUN)}
    return found | (set(pair) if SIDE_BY_SIDE in nodeids else set())


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected what they do
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    if not any(item.nodeid.startswith((BROWSER_RUN, SIDE_BY_SIDE)) for item in items):
        return
    from tests.test_browser import CLASSROOM_PAIR, find_chromium

    notebooks = compared_in_the_browser([item.nodeid for item in items],
                                        find_chromium() is not None, CLASSROOM_PAIR)
    left_out = [item for item in items if item.nodeid.split("::", 1)[0] in notebooks]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item.nodeid.split("::", 1)[0] not in notebooks]
