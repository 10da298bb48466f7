"""The sweep's search space: ranges as people write them, drawn values, configs."""

from __future__ import annotations

import numpy as np
import pytest

from mnist.config import PRESETS
from mnist.sweeps import Param, apply, check_space


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "learning_rate=loguniform:1e-4:1e-2",
            Param("learning_rate", "loguniform", low=1e-4, high=1e-2),
        ),
        ("batch_size=choice:64,128,256", Param("batch_size", "choice", values=(64, 128, 256))),
        ("optimizer=choice:adam,sgd", Param("optimizer", "choice", values=("adam", "sgd"))),
        ("augment=choice:true,false", Param("augment", "choice", values=(True, False))),
        ("epochs=int:2:6", Param("epochs", "int", low=2, high=6)),
        ("dropout=uniform:0:0.5", Param("dropout", "uniform", low=0, high=0.5)),
        ("batch-size=choice:32", Param("batch_size", "choice", values=(32,))),
    ],
)
def test_ranges_parse_and_print_back(text, expected):
    param = Param.parse(text)
    assert param == expected
    assert Param.parse(param.text()) == param
    assert Param.from_dict(param.to_dict()) == param


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("learning_rate", "write NAME=KIND:ARGS"),
        ("colour=choice:red", "'colour' cannot be searched"),
        ("learning_rate=loguniform:0:1", "needs LOW above 0"),
        ("learning_rate=uniform:1e-2:1e-4", "needs LOW < HIGH"),
        ("learning_rate=gaussian:0:1", "must be one of choice, uniform, loguniform, int"),
        ("batch_size=uniform:16:64", "takes whole numbers"),
        ("batch_size=choice:64,big", "'big' is not a whole number"),
        ("dropout=uniform:0:half", "'half' is not a number"),
        ("epochs=int:1.5:3", "takes whole numbers"),
        ("optimizer=uniform:0:1", "use choice"),
        ("augment=choice:maybe", "is not true or false"),
        ("epochs=int:2", "takes LOW:HIGH"),
    ],
)
def test_a_bad_range_gets_one_sentence(text, fragment):
    with pytest.raises(ValueError) as excinfo:
        Param.parse(text)
    message = str(excinfo.value)
    assert fragment in message and message.startswith(f"--param {text!r}") and "\n" not in message


def test_draws_stay_in_range_and_log_ranges_spread_by_decade():
    rng = np.random.default_rng(0)
    lr = Param.parse("learning_rate=loguniform:1e-4:1e-2")
    draws = np.array([lr.sample(rng) for _ in range(4000)])
    assert draws.min() >= 1e-4 and draws.max() <= 1e-2
    below = (draws < 1e-3).mean()  # half the decades lie below 1e-3
    assert 0.45 < below < 0.55
    epochs = Param.parse("epochs=int:2:4")
    assert {epochs.sample(rng) for _ in range(200)} == {2, 3, 4}
    batch = Param.parse("batch_size=choice:64,128")
    assert {batch.sample(rng) for _ in range(200)} == {64, 128}


def test_values_become_checked_configs():
    model, train = apply(
        "fast",
        {"learning_rate": 3e-3, "batch_size": 256, "filters": 16, "dense_units": 64,
         "dropout": 0.25, "block_dropout": 0.1},
    )  # fmt: skip
    assert (train.learning_rate, train.batch_size) == (3e-3, 256)
    assert train.epochs == PRESETS["fast"].train.epochs  # untouched fields keep the preset's
    assert [b.filters for b in model.conv_blocks] == [16, 32]  # the preset's 1:2 ratio kept
    assert model.dense_units == (64,) and model.dense_dropout == 0.25
    assert all(b.dropout == 0.1 for b in model.conv_blocks)
    with pytest.raises(ValueError, match="dense_units: the codelab model has no hidden dense"):
        apply("codelab", {"dense_units": 64})
    with pytest.raises(ValueError, match="batch size must be a whole number"):
        apply("fast", {"batch_size": 0})


def test_a_space_names_each_field_once():
    with pytest.raises(ValueError, match="learning_rate searched twice"):
        check_space([Param.parse("learning_rate=uniform:0.1:0.2")] * 2)
    with pytest.raises(ValueError, match="at least one --param"):
        check_space([])
