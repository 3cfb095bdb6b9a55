"""How `make test` shares the suite between its workers (the root conftest.py): groups as
loadscope makes them, one group per test in the modules listed, the longest groups first, and
a notebook's cells kept together and in order."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


root_conftest = _load("omteach_root_conftest", ROOT / "conftest.py")


def test_groups_are_loadscopes_except_the_modules_split_per_test():
    group = root_conftest.group_of
    assert group("tests/test_he.py::test_add") == "tests/test_he.py"
    assert group("tests/test_he.py::TestX::test_add[a-b]") == "tests/test_he.py::TestX"
    assert group("notebooks/05_attacks_and_defences.ipynb::Cell 3") == \
        "notebooks/05_attacks_and_defences.ipynb"
    split = root_conftest.ONE_TEST_PER_GROUP[0]
    assert group(f"{split}::test_one[x]") == f"{split}::test_one[x]"
    whole = root_conftest.ONE_GROUP_PER_MODULE[0]
    assert group(f"{whole}::TestOne::test_a") == group(f"{whole}::TestTwo::test_b") == whole


def _scheduler():
    """The scheduler `make test` gets (pytest -n 3 --dist loadscope), as xdist asks for it."""
    config = pytest.Config.fromdictargs(
        {"dist": "loadscope", "numprocesses": 3, "tx": ["3*popen"]}, [])
    return root_conftest.pytest_xdist_make_scheduler(config, None)


def test_the_longest_groups_go_out_first_and_cells_stay_together(monkeypatch):
    monkeypatch.setattr(root_conftest, "measured", lambda: {
        "tests/test_b.py::TestSlow::test": 50.0, "notebooks/n.ipynb::Cell 1": 9.0,
        "tests/test_a.py::test_2": 4.0, "tests/test_browser.py::test_x": 20.0})
    scheduler = _scheduler()
    collection = ["tests/test_a.py::test_1", "tests/test_a.py::test_2",
                  "notebooks/n.ipynb::Cell 0", "notebooks/n.ipynb::Cell 1",
                  "notebooks/n.ipynb::Cell 2", "tests/test_b.py::TestSlow::test",
                  "tests/test_browser.py::test_x", "tests/test_browser.py::test_y",
                  "tests/test_c.py::test_c"]
    for nodeid in collection:  # what LoadScopeScheduling.schedule does with the collection
        scheduler.workqueue.setdefault(scheduler._split_scope(nodeid), {})[nodeid] = False
    handed_out = []
    while scheduler.workqueue:
        group, tests = scheduler.workqueue.popitem(last=False)
        handed_out.append((group, list(tests)))
    assert handed_out == [
        ("tests/test_b.py::TestSlow", ["tests/test_b.py::TestSlow::test"]),
        ("tests/test_browser.py::test_x", ["tests/test_browser.py::test_x"]),
        ("notebooks/n.ipynb", ["notebooks/n.ipynb::Cell 0", "notebooks/n.ipynb::Cell 1",
                               "notebooks/n.ipynb::Cell 2"]),
        ("tests/test_a.py", ["tests/test_a.py::test_1", "tests/test_a.py::test_2"]),
        ("tests/test_browser.py::test_y", ["tests/test_browser.py::test_y"]),  # equals: in order
        ("tests/test_c.py", ["tests/test_c.py::test_c"])]


def test_other_modes_keep_xdists_own_scheduler():
    for dist in ("load", "loadgroup", "worksteal"):
        config = pytest.Config.fromdictargs({"dist": dist, "numprocesses": 3, "tx": []}, [])
        assert root_conftest.pytest_xdist_make_scheduler(config, None) is None


def test_the_recorded_durations_are_read_from_a_report(tmp_path):
    recorder = _load("suite_durations", ROOT / "bench" / "suite_durations.py")
    main, read_report = recorder.main, recorder.read_report
    report = ("12.50s call     tests/test_x.py::TestA::test_b[p]\n"
              "1.00s setup    tests/test_x.py::TestA::test_b[p]\n"
              "0.20s call     notebooks/n.ipynb::Cell 4\n"
              "2.00s call     tests/test_r.py::test_git[git@github.com:a/b]\n"
              "0.50s call     tests/test_r.py::test_git[git@gitlab.com:a/b]\n"
              "(3 durations < 0.005s hidden.)\n")
    assert read_report(report) == {"tests/test_x.py::TestA::test_b[p]": 13.5,
                                   "notebooks/n.ipynb::Cell 4": 0.2,
                                   "tests/test_r.py::test_git[git@github.com:a/b]": 2.0,
                                   "tests/test_r.py::test_git[git@gitlab.com:a/b]": 0.5}
    (tmp_path / "r.txt").write_text(report)
    out = tmp_path / "d.json"
    assert main([str(tmp_path / "r.txt"), "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == {"tests/test_x.py::TestA::test_b[p]": 13.5,
                                           "tests/test_r.py::test_git[git@github.com:a/b]": 2.0,
                                           "tests/test_r.py::test_git[git@gitlab.com:a/b]": 0.5}
    (tmp_path / "empty.txt").write_text("no durations here\n")
    assert main([str(tmp_path / "empty.txt"), "--out", str(out)]) == 1


def test_the_committed_durations_name_the_slowest_tests():
    measured = json.loads(root_conftest.DURATIONS.read_text())
    slowest = max(measured, key=measured.get)
    assert measured[slowest] > 20, "tests/durations.json is empty or stale: run make durations"
    assert (ROOT / slowest.split("::")[0]).exists(), f"{slowest}: renamed? run make durations"
