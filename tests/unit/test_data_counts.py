"""mnist.data.counts: the home page's figures without decoding the images."""

from __future__ import annotations

import shutil

from mnist import data


def test_counts_match_the_loaded_data_and_the_bundled_files_verify():
    loaded = data.load()
    assert data.counts() == {
        "train": len(loaded.train_labels),
        "test": len(loaded.test_labels),
        "verified": True,
    }


def test_a_changed_file_is_not_verified(tmp_path, monkeypatch):
    copy = tmp_path / "bundled"
    shutil.copytree(data.BUNDLED_DIR, copy)
    monkeypatch.setattr(data, "BUNDLED_DIR", copy)
    assert data.counts(copy)["verified"]
    path = copy / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes() + b"\0")  # one byte more: not the bundled file
    assert data.counts(copy)["verified"] is False


def test_another_folder_is_not_called_verified(tmp_path):
    for name in ("train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(data.BUNDLED_DIR / name, tmp_path / name)
    assert data.counts(tmp_path) == {"train": 60000, "test": 10000, "verified": False}
