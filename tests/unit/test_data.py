"""mnist.data: the strict IDX reader, folders of IDX files, the bundled set, splits, statistics.

IDX files are written here byte by byte from the format's definition (big-endian magic, counts,
then raw uint8 pixels), so the reader is checked against the format rather than against itself.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from mnist import data
from mnist.data import (
    BUNDLED_DIR,
    DATA_DIR_ENV,
    FILES,
    DataError,
    Dataset,
    class_counts,
    load,
    mean_images,
    parse_idx,
    pixel_histogram,
    read_idx,
    resolve_data_dir,
    stratified_sample,
    to_model_input,
)

# The class counts of the original MNIST files (LeCun et al.).
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def idx_images(images: np.ndarray, count: int | None = None, rows: int = 28, cols: int = 28):
    """IDX3 bytes: magic 2051, count, rows, cols (big-endian uint32), then the pixels."""
    n = len(images) if count is None else count
    return struct.pack(">IIII", 2051, n, rows, cols) + np.asarray(images, np.uint8).tobytes()


def idx_labels(labels, count: int | None = None) -> bytes:
    """IDX1 bytes: magic 2049, count (big-endian uint32), then one byte per label."""
    n = len(labels) if count is None else count
    return struct.pack(">II", 2049, n) + bytes(bytearray(labels))


def write(path: Path, payload: bytes, gz: bool) -> Path:
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def random_part(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    return images, labels


@pytest.fixture
def small_folder(tmp_path):
    """A folder of four small valid IDX files, two gzipped and two raw, and their arrays."""
    rng = np.random.default_rng(1)
    folder = tmp_path / "idx"
    folder.mkdir()
    arrays = {}
    arrays["train_images"], arrays["train_labels"] = random_part(rng, 12)
    arrays["test_images"], arrays["test_labels"] = random_part(rng, 7)
    gzipped = {"train_images": True, "train_labels": False, "test_images": False}
    for role, stem in FILES.items():
        gz = gzipped.get(role, True)
        name = f"{stem}.gz" if gz else stem
        encode = idx_images if role.endswith("images") else idx_labels
        write(folder / name, encode(arrays[role]), gz)
    return folder, arrays


@pytest.fixture(scope="module")
def bundled() -> Dataset:
    return load(BUNDLED_DIR)


def assert_one_data_error(excinfo, *fragments: str) -> None:
    """Exactly a DataError (not a subclass, not chained) whose message has every fragment."""
    assert excinfo.type is DataError
    assert excinfo.value.__cause__ is None
    message = str(excinfo.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


# ---------------------------------------------------------------------------------------------
# One IDX file


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_read_idx_reads_images_and_labels(tmp_path, gz):
    rng = np.random.default_rng(0)
    images, labels = random_part(rng, 5)
    suffix = ".gz" if gz else ""
    img_path = write(tmp_path / f"images{suffix}", idx_images(images), gz)
    lab_path = write(tmp_path / f"labels{suffix}", idx_labels(labels), gz)

    got_images = read_idx(img_path, kind="images")
    got_labels = read_idx(lab_path, kind="labels")

    assert got_images.shape == (5, 28, 28) and got_images.dtype == np.uint8
    assert got_labels.shape == (5,) and got_labels.dtype == np.uint8
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_read_idx_recognises_gzip_by_content_not_name(tmp_path):
    labels = [3, 1, 4, 1, 5, 9]
    path = write(tmp_path / "labels.idx", idx_labels(labels), gz=True)
    assert read_idx(path, kind="labels").tolist() == labels


def test_read_idx_pixel_layout_is_row_major(tmp_path):
    # One image whose pixel (r, c) is r + c, written in IDX's row-major order by hand.
    pixels = bytes((r + c) for r in range(28) for c in range(28))
    path = tmp_path / "one"
    path.write_bytes(struct.pack(">IIII", 2051, 1, 28, 28) + pixels)
    image = read_idx(path, kind="images")[0]
    assert image[0, 27] == 27 and image[27, 0] == 27 and image[5, 7] == 12 and image[27, 27] == 54


def test_read_idx_empty_files_are_valid(tmp_path):
    no_images = idx_images(np.zeros((0, 28, 28)))
    images = read_idx(write(tmp_path / "i", no_images, False), kind="images")
    labels = read_idx(write(tmp_path / "l", idx_labels([]), False), kind="labels")
    assert images.shape == (0, 28, 28)
    assert labels.shape == (0,)


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize(
    ("kind", "payload", "fragments"),
    [
        (
            "images",
            struct.pack(">IIII", 2049, 1, 28, 28) + bytes(784),
            ["wrong magic number 2049", "expected 2051"],
        ),
        (
            "labels",
            struct.pack(">II", 2051, 2) + bytes(2),
            ["wrong magic number 2051", "expected 2049"],
        ),
        (
            "images",
            struct.pack(">IIII", 2051, 2, 27, 28) + bytes(2 * 27 * 28),
            ["27×28", "expected 28×28"],
        ),
        (
            "images",
            struct.pack(">IIII", 2051, 2, 28, 28) + bytes(3 * 784),  # one image too many
            ["header says 2 images", f"{16 + 2 * 784} bytes", f"has {16 + 3 * 784} bytes"],
        ),
        (
            "images",
            struct.pack(">IIII", 2051, 3, 28, 28) + bytes(2 * 784 + 100),  # too few bytes
            ["header says 3 images", f"has {16 + 2 * 784 + 100} bytes"],
        ),
        (
            "labels",
            struct.pack(">II", 2049, 5) + bytes([1, 2, 3]),
            ["header says 5 labels", "13 bytes", "has 11 bytes"],
        ),
        (
            "labels",
            struct.pack(">II", 2049, 2) + bytes([1, 2, 3]),
            ["header says 2 labels", "has 11 bytes"],
        ),
        ("labels", struct.pack(">II", 2049, 4) + bytes([3, 9, 10, 0]), ["label 10 at index 2"]),
        ("labels", struct.pack(">II", 2049, 1) + bytes([200]), ["label 200", "outside 0–9"]),
        ("images", struct.pack(">II", 2051, 1), ["too short", "8 bytes"]),
        ("labels", b"\x00\x00\x08", ["too short", "3 bytes"]),
    ],
    ids=[
        "image-magic",
        "label-magic",
        "27x28",
        "too-many-bytes",
        "too-few-bytes",
        "labels-too-few",
        "labels-too-many",
        "label-10",
        "label-200",
        "short-image-header",
        "short-label-header",
    ],
)
def test_malformed_files_raise_one_data_error_naming_the_file(
    tmp_path, gz, kind, payload, fragments
):
    path = write(tmp_path / ("bad.gz" if gz else "bad"), payload, gz)
    with pytest.raises(DataError) as excinfo:
        read_idx(path, kind=kind)
    assert_one_data_error(excinfo, str(path), *fragments)


@pytest.mark.parametrize("cut", [8, 30, -4, -1], ids=["header", "middle", "crc", "last-byte"])
def test_truncated_gzip_raises_data_error(tmp_path, cut):
    rng = np.random.default_rng(2)
    compressed = gzip.compress(idx_images(rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(compressed[:cut])
    with pytest.raises(DataError) as excinfo:
        read_idx(path, kind="images")
    assert_one_data_error(excinfo, str(path), "corrupt or truncated gzip")


def test_gz_name_without_gzip_data_raises_data_error(tmp_path):
    path = write(tmp_path / "labels.gz", idx_labels([1, 2, 3]), gz=False)
    with pytest.raises(DataError) as excinfo:
        read_idx(path, kind="labels")
    assert_one_data_error(excinfo, str(path), "not a gzip file")


def test_missing_file_raises_data_error(tmp_path):
    path = tmp_path / "nothing-here"
    with pytest.raises(DataError) as excinfo:
        read_idx(path, kind="labels")
    assert_one_data_error(excinfo, str(path), "file not found")


def test_checksum_is_of_the_uncompressed_bytes(tmp_path):
    payload = idx_labels([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    path = write(tmp_path / "labels.gz", payload, gz=True)
    good = hashlib.sha256(payload).hexdigest()
    assert read_idx(path, kind="labels", sha256=good).tolist() == list(range(10))

    of_the_gz_file = hashlib.sha256(path.read_bytes()).hexdigest()
    for wrong in (of_the_gz_file, "0" * 64):
        with pytest.raises(DataError) as excinfo:
            read_idx(path, kind="labels", sha256=wrong)
        assert_one_data_error(excinfo, str(path), "checksum mismatch", good[:12], wrong[:12])


def test_parse_idx_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="kind must be 'images' or 'labels'"):
        parse_idx(idx_labels([1]), kind="pixels")


def test_parse_idx_names_the_source_it_is_given():
    with pytest.raises(DataError, match=r"^some-name: wrong magic number"):
        parse_idx(struct.pack(">II", 1, 0), kind="labels", name="some-name")


# ---------------------------------------------------------------------------------------------
# A folder of IDX files


def test_load_a_folder_of_small_idx_files(small_folder):
    folder, arrays = small_folder
    dataset = load(folder)
    for role, expected in arrays.items():
        got = getattr(dataset, role)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, expected)
    assert dataset.verified is False
    assert dataset.source == str(folder)


def test_load_reads_the_environment_variable(small_folder, monkeypatch):
    folder, arrays = small_folder
    monkeypatch.setenv(DATA_DIR_ENV, str(folder))
    assert resolve_data_dir() == folder
    dataset = load()
    np.testing.assert_array_equal(dataset.test_labels, arrays["test_labels"])
    np.testing.assert_array_equal(dataset.train_images, arrays["train_images"])
    assert dataset.verified is False


def test_the_argument_wins_over_the_environment_variable(small_folder, monkeypatch, tmp_path):
    folder, arrays = small_folder
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "does-not-exist"))
    np.testing.assert_array_equal(load(folder).train_labels, arrays["train_labels"])


def test_without_argument_or_variable_the_bundled_folder_is_used(monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    assert resolve_data_dir().resolve() == (Path(data.__file__).parent / "data").resolve()


def test_summary_counts_each_class(small_folder):
    folder, arrays = small_folder
    summary = load(folder).summary
    train = Counter(arrays["train_labels"].tolist())
    test = Counter(arrays["test_labels"].tolist())
    assert summary["train"] == 12 and summary["test"] == 7
    assert summary["train_counts"] == [train[d] for d in range(10)]
    assert summary["test_counts"] == [test[d] for d in range(10)]
    assert summary["checksums"].startswith("not checked")
    assert summary["source"] == str(folder)


@pytest.mark.parametrize("stem", list(FILES.values()))
def test_a_missing_file_in_the_folder_is_named(small_folder, stem):
    folder, _ = small_folder
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        candidate.unlink(missing_ok=True)
    with pytest.raises(DataError) as excinfo:
        load(folder)
    assert_one_data_error(excinfo, str(folder), f"no {stem}(.gz)")


def test_a_folder_that_does_not_exist(tmp_path):
    folder = tmp_path / "nope"
    with pytest.raises(DataError) as excinfo:
        load(folder)
    assert_one_data_error(excinfo, str(folder), "not a folder")


def test_a_file_instead_of_a_folder(tmp_path):
    path = write(tmp_path / "file", b"hello", gz=False)
    with pytest.raises(DataError) as excinfo:
        load(path)
    assert_one_data_error(excinfo, str(path), "not a folder")


@pytest.mark.parametrize("part", ["train", "test"])
def test_image_and_label_counts_must_agree(small_folder, part):
    folder, arrays = small_folder
    labels = arrays[f"{part}_labels"]
    stem = FILES[f"{part}_labels"]
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        candidate.unlink(missing_ok=True)
    write(folder / stem, idx_labels(labels[:-1]), gz=False)  # one label short
    with pytest.raises(DataError) as excinfo:
        load(folder)
    n = len(labels)
    assert_one_data_error(excinfo, str(folder), f"{n} {part} images but {n - 1} {part} labels")


def test_a_corrupt_file_in_the_folder_is_named(small_folder):
    folder, _ = small_folder
    path = folder / "t10k-images-idx3-ubyte"  # raw in the fixture
    path.write_bytes(idx_images(np.zeros((7, 28, 28)), count=8))
    with pytest.raises(DataError) as excinfo:
        load(folder)
    assert_one_data_error(excinfo, str(path), "header says 8 images")


# ---------------------------------------------------------------------------------------------
# The bundled MNIST


def test_bundled_dataset_sizes_and_types(bundled):
    assert bundled.train_images.shape == (60_000, 28, 28)
    assert bundled.train_labels.shape == (60_000,)
    assert bundled.test_images.shape == (10_000, 28, 28)
    assert bundled.test_labels.shape == (10_000,)
    for array in (bundled.train_images, bundled.train_labels, bundled.test_images):
        assert array.dtype == np.uint8
    assert bundled.verified is True
    assert Path(bundled.source).resolve() == BUNDLED_DIR.resolve()
    assert bundled.train_images.max() == 255 and bundled.train_images.min() == 0


def test_bundled_dataset_class_counts_are_mnists(bundled):
    train = Counter(bundled.train_labels.tolist())
    test = Counter(bundled.test_labels.tolist())
    assert [train[d] for d in range(10)] == TRAIN_COUNTS
    assert [test[d] for d in range(10)] == TEST_COUNTS
    assert class_counts(bundled.train_labels).tolist() == TRAIN_COUNTS
    assert bundled.summary["test_counts"] == TEST_COUNTS
    assert bundled.summary["checksums"] == "verified"


def test_bundled_dataset_is_really_checksum_verified(monkeypatch):
    monkeypatch.setitem(data.SHA256, "t10k-labels-idx1-ubyte", "f" * 64)
    with pytest.raises(DataError) as excinfo:
        load(BUNDLED_DIR)
    assert_one_data_error(excinfo, "t10k-labels-idx1-ubyte", "checksum mismatch")


def test_bundled_test_labels_checksum_matches_the_readme():
    # The README's published SHA-256 for the uncompressed test labels, typed independently.
    raw = gzip.decompress((BUNDLED_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes())
    readme = (BUNDLED_DIR / "README.md").read_text()
    digest = hashlib.sha256(raw).hexdigest()
    assert digest in readme
    assert digest == "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"


# ---------------------------------------------------------------------------------------------
# split()


@pytest.fixture(scope="module")
def tagged(bundled) -> Dataset:
    """The real labels with images that encode their own index (pixels 0–2 of row 0)."""
    n = len(bundled.train_labels)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    idx = np.arange(n)
    images[:, 0, 0], images[:, 0, 1], images[:, 0, 2] = idx % 256, (idx // 256) % 256, idx // 65536
    return Dataset(
        train_images=images,
        train_labels=bundled.train_labels,
        test_images=bundled.test_images[:1],
        test_labels=bundled.test_labels[:1],
        source="tagged",
        verified=False,
    )


def ids_of(images: np.ndarray) -> np.ndarray:
    row = images[:, 0, :3].astype(np.int64)
    return row[:, 0] + 256 * row[:, 1] + 65536 * row[:, 2]


def test_default_split_is_55000_and_5000(bundled):
    split = bundled.split()
    assert split.x_train.shape == (55_000, 28, 28)
    assert split.y_train.shape == (55_000,)
    assert split.x_val.shape == (5_000, 28, 28)
    assert split.y_val.shape == (5_000,)
    assert split.x_train.dtype == split.y_train.dtype == np.uint8


def test_split_is_disjoint_covers_everything_and_keeps_pairs(tagged):
    split = tagged.split()
    train_ids, val_ids = ids_of(split.x_train), ids_of(split.x_val)
    assert len(set(train_ids.tolist())) == len(train_ids)
    assert len(set(val_ids.tolist())) == len(val_ids)
    assert set(train_ids.tolist()).isdisjoint(val_ids.tolist())
    assert sorted(train_ids.tolist() + val_ids.tolist()) == list(range(60_000))
    # Each image still carries its own label.
    np.testing.assert_array_equal(split.y_train, tagged.train_labels[train_ids])
    np.testing.assert_array_equal(split.y_val, tagged.train_labels[val_ids])


@pytest.mark.parametrize("validation_size", [5_000, 1_000, 777])
def test_split_is_stratified(bundled, validation_size):
    split = bundled.split(validation_size=validation_size)
    val = Counter(split.y_val.tolist())
    train = Counter(split.y_train.tolist())
    for digit, total in enumerate(TRAIN_COUNTS):
        exact = Fraction(total * validation_size, 60_000)
        assert abs(val[digit] - exact) < 1, (digit, val[digit], float(exact))
        assert val[digit] + train[digit] == total
    assert sum(val.values()) == validation_size


def test_split_is_seeded(tagged):
    a, b, c = tagged.split(seed=3), tagged.split(seed=3), tagged.split(seed=4)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_val, b.y_val)
    np.testing.assert_array_equal(ids_of(a.x_val), ids_of(b.x_val))
    assert set(ids_of(a.x_val).tolist()) != set(ids_of(c.x_val).tolist())
    assert not np.array_equal(ids_of(a.x_train), ids_of(c.x_train))


def test_training_order_is_shuffled(tagged):
    train_ids = ids_of(tagged.split().x_train)
    assert not np.all(np.diff(train_ids) > 0)


def test_train_size_takes_a_stratified_subset_of_the_rest(tagged):
    split = tagged.split(validation_size=1_000, train_size=5_500, seed=1)
    assert len(split.y_train) == 5_500 and len(split.y_val) == 1_000
    train_ids, val_ids = ids_of(split.x_train), ids_of(split.x_val)
    assert len(set(train_ids.tolist())) == 5_500
    assert set(train_ids.tolist()).isdisjoint(val_ids.tolist())
    np.testing.assert_array_equal(split.y_train, tagged.train_labels[train_ids])
    val = Counter(split.y_val.tolist())
    train = Counter(split.y_train.tolist())
    for digit, total in enumerate(TRAIN_COUNTS):
        rest = total - val[digit]  # what was left after the validation images
        exact = Fraction(rest * 5_500, 59_000)
        assert abs(train[digit] - exact) < 1, (digit, train[digit], float(exact))


def test_validation_size_zero_keeps_everything_for_training(tagged):
    split = tagged.split(validation_size=0)
    assert len(split.y_val) == 0 and split.x_val.shape == (0, 28, 28)
    assert sorted(ids_of(split.x_train).tolist()) == list(range(60_000))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"validation_size": -1}, "validation_size must be between 0 and 59999"),
        ({"validation_size": 60_000}, "validation_size must be between 0 and 59999"),
        ({"train_size": 0}, "train_size must be between 1 and 55000"),
        ({"train_size": 55_001}, "train_size must be between 1 and 55000"),
        (
            {"validation_size": 10_000, "train_size": 50_001},
            "train_size must be between 1 and 50000",
        ),
    ],
)
def test_split_rejects_bad_sizes(tagged, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tagged.split(**kwargs)


# ---------------------------------------------------------------------------------------------
# stratified_sample


def largest_remainder(counts: list[int], k: int) -> list[int]:
    """Hamilton's method in exact arithmetic; ties go to the lower class."""
    n = sum(counts)
    quotas = [Fraction(c * k, n) for c in counts]
    take = [q.numerator // q.denominator for q in quotas]
    order = sorted(range(len(counts)), key=lambda c: (-(quotas[c] - take[c]), c))
    for c in order[: k - sum(take)]:
        take[c] += 1
    return take


@pytest.mark.parametrize("k", [0, 1, 7, 50, 123, 299, 300])
def test_stratified_sample_sums_to_k_with_largest_remainders(k):
    rng = np.random.default_rng(k)
    # Uneven classes, one of them absent.
    labels = np.repeat(np.arange(10), [40, 3, 61, 17, 0, 29, 55, 8, 44, 43]).astype(np.uint8)
    rng.shuffle(labels)
    indices = np.arange(len(labels))
    chosen = stratified_sample(labels, indices, k, np.random.default_rng(0))
    assert len(chosen) == k
    assert len(set(chosen.tolist())) == k
    assert set(chosen.tolist()) <= set(indices.tolist())
    assert np.all(np.diff(chosen) > 0)  # returned sorted
    counts = [int(np.sum(labels == c)) for c in range(10)]
    got = Counter(labels[chosen].tolist())
    assert [got[c] for c in range(10)] == largest_remainder(counts, k)


def test_stratified_sample_with_equal_remainders_still_sums_to_k():
    labels = np.repeat(np.arange(10), 3).astype(np.uint8)  # every quota is 1.5 for k=15
    for k in (5, 15, 25):
        chosen = stratified_sample(labels, np.arange(30), k, np.random.default_rng(1))
        assert len(chosen) == k
        per_class = Counter(labels[chosen].tolist())
        assert all(abs(per_class[c] - k / 10) < 1 for c in range(10))


def test_stratified_sample_draws_from_the_given_indices_only():
    labels = np.tile(np.arange(10), 20).astype(np.uint8)
    indices = np.arange(50, 200, 3)
    chosen = stratified_sample(labels, indices, 20, np.random.default_rng(5))
    assert set(chosen.tolist()) <= set(indices.tolist())
    assert len(chosen) == 20


# ---------------------------------------------------------------------------------------------
# Statistics and model input


def test_mean_images_matches_a_per_class_loop():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(60, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 9, size=60).astype(np.uint8)  # digit 9 never appears
    got = mean_images(images, labels)
    assert got.shape == (10, 28, 28) and got.dtype == np.float32
    for digit in range(10):
        total = np.zeros((28, 28))
        n = 0
        for image, label in zip(images, labels, strict=True):
            if label == digit:
                total += image
                n += 1
        expected = total / n if n else np.zeros((28, 28))
        np.testing.assert_allclose(got[digit], expected, rtol=1e-6, atol=1e-4)
    assert not got[9].any()


@pytest.mark.parametrize("bins", [256, 16, 10, 7, 1])
def test_pixel_histogram_matches_numpy_and_a_floor_rule(bins):
    rng = np.random.default_rng(bins)
    images = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    images[0, 0, :4] = [0, 255, 128, 127]  # the extremes and the middle are present
    counts, edges = pixel_histogram(images, bins=bins)

    assert counts.shape == (bins,) and edges.shape == (bins + 1,)
    assert counts.dtype == np.int64
    np.testing.assert_allclose(edges, np.linspace(0, 256, bins + 1))
    # Value v falls in bin ⌊v·bins/256⌋ (equal-width bins over 0..256).
    by_rule = Counter(int(v) * bins // 256 for v in images.reshape(-1))
    assert counts.tolist() == [by_rule[b] for b in range(bins)]
    reference, _ = np.histogram(images, bins=bins, range=(0, 256))
    np.testing.assert_array_equal(counts, reference)
    assert counts.sum() == images.size


def test_pixel_histogram_hand_case():
    images = np.array([0, 15, 16, 17, 255, 255, 128], dtype=np.uint8).reshape(1, 7)
    counts, edges = pixel_histogram(images, bins=16)
    expected = [0] * 16
    expected[0], expected[1], expected[8], expected[15] = 2, 2, 1, 2
    assert counts.tolist() == expected
    assert edges[0] == 0 and edges[1] == 16 and edges[-1] == 256


@pytest.mark.parametrize("bins", [0, -1, 257])
def test_pixel_histogram_rejects_bad_bins(bins):
    with pytest.raises(ValueError, match="bins must be between 1 and 256"):
        pixel_histogram(np.zeros((1, 28, 28), np.uint8), bins=bins)


def test_to_model_input_shape_dtype_and_scale():
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[1, 5, 6], images[2, 27, 27] = 255, 51, 1
    x = to_model_input(images)
    assert x.shape == (3, 28, 28, 1)
    assert x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert x[0, 0, 0, 0] == 1.0
    assert x[1, 5, 6, 0] == pytest.approx(0.2)
    assert x[2, 27, 27, 0] == pytest.approx(1 / 255)
    assert images.dtype == np.uint8 and images[0, 0, 0] == 255  # input untouched
