"""The personal digit set: saving, the held-out split, relabelling, deleting, zip files."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from mnist import runs
from mnist.personal import (
    MAX_DRAWING_BYTES,
    MIN_PER_DIGIT,
    PersonalError,
    PersonalSet,
    resolve_personal_dir,
)


def _digit(value: int) -> np.ndarray:
    """A (28, 28, 1) float input with a recognisable pattern per ``value``."""
    x = np.zeros((28, 28, 1), np.float32)
    x[4 + value : 20 + value, 10:18] = 1.0
    return x


@pytest.fixture
def samples(tmp_path) -> PersonalSet:
    return PersonalSet(tmp_path / "personal")


def test_default_folder_is_inside_the_runs_folder_and_not_a_run(runs_dir, monkeypatch):
    monkeypatch.delenv("MNIST_PERSONAL_DIR", raising=False)
    assert resolve_personal_dir() == runs_dir / "personal"
    PersonalSet().add(_digit(1), 1)
    found, problems = runs.list_runs()
    assert found == [] and problems == []  # the personal folder is not an unreadable run


def test_every_fifth_sample_of_a_digit_is_held_out(samples):
    parts = [samples.add(_digit(3), 3).held_out for _ in range(11)]
    assert parts == [False] * 4 + [True] + [False] * 4 + [True] + [False]
    samples.add(_digit(7), 7)
    assert samples.counts()[3].tolist() == [9, 2]
    assert samples.counts()[7].tolist() == [1, 0]
    assert samples.needed() == {d: MIN_PER_DIGIT for d in range(10) if d not in (3, 7)} | {7: 4}


def test_a_sample_keeps_its_pixels_and_its_drawing(samples):
    drawing = np.zeros((280, 280, 4), np.uint8)
    drawing[..., 3] = 255
    drawing[100:180, 120:160, :3] = 255
    x = np.random.default_rng(0).random((28, 28, 1)).astype(np.float32)
    sample = samples.add(x, 4, drawing)
    assert np.array_equal(samples.image(sample), np.round(x[..., 0] * 255).astype(np.uint8))
    kept = np.asarray(Image.open(samples.drawing_path(sample.id)))
    assert np.array_equal(kept, drawing)
    assert not list(samples.root.rglob(".*"))  # no temporary files left behind


def test_a_large_photo_is_kept_small(samples):
    photo = np.full((3000, 2000, 3), 200, np.uint8)
    sample = samples.add(_digit(2), 2, photo)
    with Image.open(samples.drawing_path(sample.id)) as kept:
        assert max(kept.size) <= 560


def test_relabel_moves_the_sample_and_keeps_its_part(samples):
    for _ in range(5):
        held = samples.add(_digit(1), 1)
    assert held.held_out
    moved = samples.relabel(held.id, 7)
    assert moved.digit == 7 and moved.held_out and moved.id == held.id
    assert samples.counts()[1].tolist() == [4, 0]
    assert samples.counts()[7].tolist() == [0, 1]


def test_delete_removes_the_sample_and_its_drawing(samples):
    sample = samples.add(_digit(5), 5, np.zeros((10, 10, 4), np.uint8))
    samples.delete(sample.id)
    assert samples.samples() == []
    assert samples.drawing_path(sample.id) is None
    with pytest.raises(PersonalError, match="not in"):
        samples.delete(sample.id)


@pytest.mark.parametrize("bad", [-1, 10, 3.0, True, "7"])
def test_labels_are_digits(samples, bad):
    with pytest.raises(PersonalError, match="digit from 0 to 9"):
        samples.add(_digit(1), bad)


def test_arrays_and_fingerprint(samples):
    for d in range(10):
        for _ in range(5):
            samples.add(_digit(d), d)
    arrays = samples.arrays()
    assert arrays.x_train.shape == (40, 28, 28) and arrays.x_test.shape == (10, 28, 28)
    assert arrays.x_train.dtype == np.uint8
    assert sorted(arrays.y_test.tolist()) == list(range(10))
    first = samples.fingerprint()
    assert samples.fingerprint() == first
    samples.relabel(next(s for s in samples.samples() if s.digit == 0).id, 9)
    assert samples.fingerprint() != first


def test_zip_round_trip_and_duplicates(samples, tmp_path):
    for d in (0, 1, 1):
        samples.add(_digit(d), d, np.zeros((20, 20, 4), np.uint8))
    data = samples.to_zip()
    other = PersonalSet(tmp_path / "other")
    report = other.import_zip(data)
    assert (report.added, report.already_there) == (3, 0)
    assert other.fingerprint() == samples.fingerprint()
    assert all(other.drawing_path(s.id) for s in other.samples())
    again = other.import_zip(data)
    assert (again.added, again.already_there) == (0, 3)
    path = tmp_path / "set.zip"
    path.write_bytes(data)
    assert PersonalSet(tmp_path / "third").import_zip(path).added == 3


def _zip(members: dict[str, bytes], manifest: dict | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        if manifest is not False:
            zf.writestr("manifest.json", json.dumps(manifest or {"format_version": 1}))
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def _png(size=(28, 28)) -> bytes:
    out = io.BytesIO()
    Image.new("L", size).save(out, format="PNG")
    return out.getvalue()


GOOD = "20261203-101010-abcd-train"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a zip", "is not a zip file"),
        (_zip({f"digits/1/{GOOD}.png": _png()}, manifest=False), "no manifest.json"),
        (_zip({}, {"format_version": 99}), "newer than this version reads"),
        (_zip({"../../etc/evil.png": _png()}), "which is not a sample"),
        (_zip({f"digits/1/{GOOD}.png": _png((32, 32))}), "must be 28×28 pixels"),
        (_zip({f"digits/1/{GOOD}.png": b"\x89PNG broken"}), "not a readable PNG"),
        (_zip({f"drawings/{GOOD}.png": b"\0" * (MAX_DRAWING_BYTES + 1)}), "too large"),
    ],
    ids=["not-zip", "no-manifest", "newer", "path-escape", "wrong-size", "broken", "bomb"],
)
def test_a_bad_zip_is_refused_whole_and_writes_nothing(samples, data, message):
    with pytest.raises(PersonalError, match=message):
        samples.import_zip(data)
    assert not samples.root.exists() or samples.samples() == []


def test_a_decompression_bomb_is_refused_before_inflating(samples):
    # 500 MB of zeros claimed by one drawing: refused from the zip's directory at once.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", '{"format_version": 1}')
        with zf.open(f"drawings/{GOOD}.png", "w", force_zip64=True) as member:
            chunk = b"\0" * (1 << 24)
            for _ in range(30):
                member.write(chunk)
    # The size in the message is the directory's: judged before a byte was inflated.
    with pytest.raises(PersonalError, match=r"too large \(503,316,480 bytes\)"):
        samples.import_zip(out.getvalue())


def test_a_digit_whose_held_out_sample_went_needs_one_more(samples):
    for d in range(10):
        for _ in range(5):
            samples.add(_digit(d), d)
    assert samples.needed() == {}
    held = next(s for s in samples.samples() if s.digit == 3 and s.held_out)
    samples.relabel(held.id, 8)
    assert samples.needed() == {3: 1}  # 4 left: one more, and it will be held out
    assert samples.add(_digit(3), 3).held_out
    assert samples.needed() == {}
    train = [s for s in samples.samples() if s.digit == 8 and not s.held_out]
    for s in train:
        samples.delete(s.id)
    assert samples.needed() == {8: 3}  # 2 held out: 3 more, the first of them to train on
