"""Widgets tell the truth: labels fit, values shown are the ones that matter, feedback keeps
its layout, and long steps report progress."""

from __future__ import annotations

import re
import warnings
from html import escape

import ipywidgets as widgets
import numpy as np
import pytest

from omteach.chain import Chain, contract_source
from omteach.crypto.paillier import generate_keypair
from omteach.errors import WeakKeyWarning
from omteach.exercises import ch02
from omteach.exercises.ch02 import deploy_example
from omteach.learning.data import split_digits
from omteach.learning.model import ModelSpec, build_model, get_weights
from omteach.ledger import example_ledger, example_network
from omteach.protocol import TrainingRun
from omteach.ui.ch01 import EncryptedAdder
from omteach.ui.ch02 import ContractConsole
from omteach.ui.ch03 import LedgerExplorer, MiningLab
from omteach.ui.ch04 import RoundDashboard, WhatAISees, _steps_html
from omteach.ui.ch05 import InversionLab

DEFAULT_BUTTON_CHARS = 16   # ipywidgets' default 148 px button shows about this many characters
DEFAULT_DESCRIPTION_CHARS = 12  # its default description column (~90 px)


def walk(w):
    yield w
    for child in getattr(w, "children", ()):
        yield from walk(child)


def cut_labels(root) -> list[str]:
    """Labels a browser would cut: long button labels at the default width, long descriptions
    in the default description column."""
    cut = []
    for w in walk(root):
        if isinstance(w, widgets.Button) and not w.layout.width:
            if len(w.description) > DEFAULT_BUTTON_CHARS:
                cut.append(w.description)
        elif getattr(w, "description", "") and not isinstance(w, widgets.Button):
            if (len(w.description) > DEFAULT_DESCRIPTION_CHARS
                    and w.style.description_width in ("", None)):
                cut.append(w.description)
    return cut


@pytest.fixture(scope="module")
def run():
    with TrainingRun(keys=generate_keypair(2048), workers=1, rounds=2) as r:
        yield r


def test_round_widgets_show_whole_labels_and_per_owner_progress(run):
    dash, panel = RoundDashboard(run), WhatAISees(run)
    assert cut_labels(dash) == [] and cut_labels(panel) == []
    seen: list[tuple[int, int, str]] = []
    original = dash._on_progress
    dash._on_progress = lambda *a: (seen.append(a), original(*a))
    dash.run_round()
    assert "closed" in dash.status_text
    # one step per owner, then AI Inc.'s; the bar ends full
    assert [s[:2] for s in seen if "submitted" in s[2]] == [(1, 4), (2, 4), (3, 4)]
    assert seen[-1][:2] == (4, 4) and dash.progress.bar.value == dash.progress.bar.max == 4
    # "Decrypt the sum" compares values that are not all zero
    assert panel.decrypt_sum() is not None
    shown = re.findall(r"\[([^\]]*)\]", panel._out.text)
    assert len(shown) == 2
    for row in shown:
        values = np.array(row.split(), dtype=float)
        assert len(values) == 6 and np.all(np.abs(values) > 1e-4), panel._out.text
    assert panel.decrypt_one("Joe") is not None
    assert "[0. -0." not in panel._out.text and "[0. 0." not in panel._out.text


def test_step_bar_never_wraps():
    html = _steps_html({"training": 0.333, "masking": 0.333, "encryption": 0.334, "chain": 0.0})
    assert "display:flex" in html and "flex-wrap:nowrap" in html
    assert "inline-block" not in html
    shares = [float(x) for x in re.findall(r"flex:([0-9.]+) 1 0", html)]
    assert len(shares) == 4 and sum(shares) == pytest.approx(1.0, abs=1e-3)


def test_every_chapter_widget_shows_whole_labels():
    shares, _ = split_digits(seed=0)
    model = ModelSpec()
    lab = InversionLab(shares, model, get_weights(build_model(model)))
    for name in lab._defence.options:
        lab._defence.value = name
        assert cut_labels(lab) == [], name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakKeyWarning)
        assert cut_labels(EncryptedAdder(generate_keypair(512))) == []
    assert cut_labels(LedgerExplorer(example_network(1))) == []
    assert cut_labels(MiningLab(example_ledger(1))) == []
    console = ContractConsole(deploy_example(Chain()))
    for function in console._function.options:  # each function brings its own argument boxes
        console._function.value = function
        assert cut_labels(console) == [], function


def test_compiler_excerpt_keeps_its_indentation_in_the_html():
    src = contract_source("DataUseAgreement")
    # a line of grant_consent, taken from the contract (not written out: it is an answer's anchor)
    anchor = next(line for line in src.splitlines(keepends=True)
                  if line.strip().startswith("assert not self.consent"))
    unindented = src.replace(anchor, anchor + 'assert self.payment_per_use > 0, "no free use"\n')
    fb = ch02.check_no_free_data_rule(unindented)
    assert not fb
    html = fb._repr_html_()
    assert "white-space:pre-wrap" in html  # the browser keeps the spaces as typed
    excerpt = [line for line in str(fb).splitlines() if "---> " in line][0]
    assert re.search(r"--->\s+\d+ {5}assert block\.timestamp", excerpt)
    assert escape(excerpt) in html  # verbatim, indentation included
