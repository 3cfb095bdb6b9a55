"""Chapter 5 widgets and checkers."""

from __future__ import annotations

import numpy as np
import pytest

from omteach.crypto.paillier import generate_keypair
from omteach.exercises import ch05
from omteach.learning.data import split_digits
from omteach.learning.defences import DEFENCES
from omteach.learning.model import ModelSpec, build_model, get_weights
from omteach.protocol import AICompany, DataOwner, Market
from omteach.ui.ch05 import AuditPanel, InversionLab, png_size
from tests.answer_key import answer


@pytest.fixture(scope="module")
def lab():
    shares, _ = split_digits(seed=0)
    model = ModelSpec()
    return InversionLab(shares, model, get_weights(build_model(model)),
                        accuracy_cost={0.0: 0.8, 0.1: 0.6, 1.0: 0.1},
                        costs={"pruning": {0.0: 0.8, 0.9: 0.75, 0.99: 0.2}},
                        spread=(0.7, 0.85))


def test_inversion_lab_shows_each_defence(lab):
    lab._defence.value = "none"
    assert lab.update() > 60 and "exact copy" in lab._result.text
    assert bytes(lab._image.value).startswith(b"\x89PNG") and lab._sigma.disabled
    lab._defence.value = "secure-aggregation"
    assert lab.update() < 25 and "accuracy cost: none" in lab._result.text
    lab._defence.value = "dp-noise"
    lab._sigma.value = 0.3
    assert lab.update() < 15 and "model accuracy with this noise σ" in lab._result.text
    assert not lab._sigma.disabled and "σ 0.3" in lab._result.text
    assert "guarantee: ε = 42.8 over 3 rounds (δ = 1e-05" in lab._result.text
    # A gain in accuracy from noise is named for what it is: within the seeds' spread.
    assert "0.70 to 0.85" in lab._result.text and "chance" in lab._result.text
    lab._defence.value = "pruning"
    assert lab._sigma.description == "share pruned" and lab._sigma.value == 0.9
    lab._sigma.value = 0.99
    assert lab.update() < 15 and "≈ 0.20" in lab._result.text
    assert "guarantee" not in lab._result.text  # pruning promises nothing formal


def test_inversion_lab_offers_every_registry_entry(lab):
    assert list(lab._defence.options) == list(DEFENCES)
    assert "deep-leakage" in lab._attack.options


def test_inversion_lab_figure_is_shown_at_its_own_size(lab):
    lab._defence.value = "none"
    width, height = png_size(bytes(lab._image.value))
    assert lab._image.layout.width == f"{width}px" and 200 < width < 480
    assert lab._image.layout.height == f"{height}px"


def test_inversion_lab_shows_errors_in_the_widget(lab):
    with pytest.raises(Exception, match="images 0 to"):
        lab.reconstruct("Joe", 10_000, "none", 0.0)
    lab._index.max = 10_000
    lab._index.value = 10_000
    assert lab.update() is None and "images 0 to" in lab._result.value
    lab._index.value = 0


def test_audit_panel():
    shares, _ = split_digits(seed=0)
    market = Market.create()
    keys = generate_keypair(2048)
    AICompany(market, ModelSpec(batch_size=2), keys=keys).post(rounds=1, min_owners=3, bounty=1)
    panel = AuditPanel(DataOwner("Joe", market, shares["Joe"]))
    report = panel.audit(0)
    assert not report.passed and "FLAGGED" in panel._out.text
    panel._button.click()
    assert "batch size: 2" in panel._out.text


def test_audit_panel_names_the_spec_and_never_cuts_its_label():
    shares, _ = split_digits(seed=0)
    market = Market.create()
    keys = generate_keypair(2048)
    AICompany(market, ModelSpec(batch_size=2), keys=keys).post(rounds=1, min_owners=3, bounty=1)
    AICompany(market, ModelSpec(batch_size=32), keys=keys).post(rounds=1, min_owners=3, bounty=1)
    panel = AuditPanel(DataOwner("Joe", market, shares["Joe"]))
    labels = [label for label, _ in panel._spec.options]
    assert all(label.endswith("lr 0.1") for label in labels)  # the whole summary
    assert "batch 32," in labels[1] and "batch 2," in labels[0]
    panel._spec.value = 0
    panel._button.click()
    assert panel._out.text.startswith("#0: ") and "FLAGGED" in panel._out.text
    panel._spec.value = 1  # the old report must not stay up under the new choice
    assert "FLAGGED" not in panel._out.text and "#1" in panel._out.text
    assert "not audited yet" in panel._out.text
    panel._button.click()
    assert panel._out.text.startswith("#1: ") and "PASS" in panel._out.text
    assert panel.audit(None) is None and "no open spec" in panel._out.text


def test_inversion_checker():
    good = answer(5, "ch05_ex1_invert_answer", "invert", np=np)

    def first_unit(dw, db):
        with np.errstate(invalid="ignore", divide="ignore"):
            return dw[0] / db[0]

    assert ch05.check_inversion(good)
    assert not ch05.check_inversion(first_unit)  # db[0] may be 0
    assert not ch05.check_inversion(lambda dw, db: dw.mean(axis=0))
    assert "No answer yet" in ch05.check_inversion(lambda dw, db: None).message
    assert "raised" in ch05.check_inversion(lambda dw, db: 1 / 0).message
    assert not ch05.check_inversion(None) and not ch05.check_inversion(3)
    assert "No answer yet" in ch05.check_inversion(None).message
    assert "invert should be a function" in ch05.check_inversion(3).message


def test_refuse_checker():
    class R:
        def __init__(self, passed):
            self.passed = passed

    reports = {0: R(True), 1: R(False), 2: R(False)}
    assert ch05.check_specs_to_refuse([1, 2], reports)
    fb = ch05.check_specs_to_refuse([2], reports)
    assert not fb and "#1" in fb.hint
    assert "are fine" in ch05.check_specs_to_refuse([0, 1, 2], reports).message
    assert not ch05.check_specs_to_refuse(None, reports)
    assert not ch05.check_specs_to_refuse("abc", reports)
    assert "no spec #7" in ch05.check_specs_to_refuse([1, 7], reports).message


def test_exercise_2_specs_are_new_and_need_every_rule():
    """Exercise 2 cannot be answered by copying section 7: other ids, no verdict printed, and
    each rule (batch size, owners, copied first-layer units) refuses one spec on its own."""
    specs = ch05.new_specs()
    table = ch05.new_specs_table(specs)
    assert "PASS" not in table and "FLAGGED" not in table
    failed = {s.spec_id: [f.check for f in s.audit().failures] for s in specs}
    refused = sorted(i for i, checks in failed.items() if checks)
    assert not set(refused) & {0, 1, 2}  # section 7's ids
    assert {tuple(c) for c in failed.values() if c} == {
        ("batch size",), ("first-layer weights",), ("owners per round",)}
    assert ch05.check_specs_to_refuse(refused)
    assert not ch05.check_specs_to_refuse([1, 2])  # section 7's answer
    near = ch05.check_specs_to_refuse(refused[:-1])
    assert not near and f"#{refused[-1]}" in near.hint
