"""MNIST on disk → NumPy: a strict IDX reader, checksums, a Dataset, splits and statistics.

Everything here is offline: the four original files ship in ``mnist/data/``. Another folder of
IDX files (gzipped or raw) can be used instead through ``MNIST_DATA_DIR`` or ``load(data_dir)``.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from mnist import IMAGE_SIDE, NUM_CLASSES, VALIDATION_IMAGES

BUNDLED_DIR = Path(__file__).parent / "data"
DATA_DIR_ENV = "MNIST_DATA_DIR"

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension

# The four files by role; each may be stored as NAME or NAME.gz.
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# SHA-256 of the *uncompressed* bytes (../shared/data/mnist/README.md): independent of gzip.
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
DEFAULT_VALIDATION_SIZE = VALIDATION_IMAGES  # the usual 55,000 / 5,000 split of the 60,000


class DataError(Exception):
    """A data file is missing, malformed or not the file it claims to be."""


def _read_bytes(path: Path) -> bytes:
    """Whole file contents, gunzipped when the file is gzip (by its magic bytes, not its name)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise DataError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    if path.suffix == ".gz":
        raise DataError(f"{path}: not a gzip file (named .gz but has no gzip header)")
    return raw


def parse_idx(data: bytes, *, kind: str, name: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes: ``kind="images"`` → (N, 28, 28) uint8, ``kind="labels"`` → (N,) uint8."""
    if kind not in ("images", "labels"):
        raise ValueError(f"kind must be 'images' or 'labels', not {kind!r}")
    header_len = 16 if kind == "images" else 8
    if len(data) < header_len:
        raise DataError(f"{name}: too short for an IDX {kind} header ({len(data)} bytes)")
    magic, count = struct.unpack(">II", data[:8])
    expected_magic = IMAGES_MAGIC if kind == "images" else LABELS_MAGIC
    if magic != expected_magic:
        raise DataError(
            f"{name}: wrong magic number {magic} (expected {expected_magic} for IDX {kind})"
        )
    shape: tuple[int, ...] = (count,)
    if kind == "images":
        rows, cols = struct.unpack(">II", data[8:16])
        if (rows, cols) != (IMAGE_SIDE, IMAGE_SIDE):
            raise DataError(f"{name}: images are {rows}×{cols}, expected {IMAGE_SIDE}×{IMAGE_SIDE}")
        shape = (count, rows, cols)
    expected_len = header_len + int(np.prod(shape))
    if len(data) != expected_len:
        raise DataError(
            f"{name}: header says {count} {kind} ({expected_len} bytes) "
            f"but the file has {len(data)} bytes"
        )
    array = np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(shape)
    if kind == "labels" and count and int(array.max()) >= NUM_CLASSES:
        bad = int(np.argmax(array >= NUM_CLASSES))
        raise DataError(f"{name}: label {int(array[bad])} at index {bad} is outside 0–9")
    return array


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.exists():
            return candidate
    raise DataError(f"{folder}: no {stem}(.gz) in this folder")


def read_idx(path: str | os.PathLike, *, kind: str, sha256: str | None = None) -> np.ndarray:
    """Read one IDX file (gzipped or raw); with ``sha256``, verify the uncompressed bytes."""
    path = Path(path)
    data = _read_bytes(path)
    if sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise DataError(
                f"{path}: checksum mismatch (SHA-256 {actual[:12]}…, expected {sha256[:12]}…)"
            )
    return parse_idx(data, kind=kind, name=str(path))


@dataclass(frozen=True)
class Split:
    """Train / validation arrays for one run: uint8 images (N, 28, 28), uint8 labels (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


@dataclass(frozen=True, eq=False)
class Dataset:
    """The 60,000 training and 10,000 test images as read from disk (uint8, never scaled)."""

    train_images: np.ndarray  # (60000, 28, 28) uint8
    train_labels: np.ndarray  # (60000,) uint8
    test_images: np.ndarray  # (10000, 28, 28) uint8
    test_labels: np.ndarray  # (10000,) uint8
    source: str  # the folder the files came from
    verified: bool  # checksums checked against the bundled set

    def split(
        self,
        validation_size: int = DEFAULT_VALIDATION_SIZE,
        train_size: int | None = None,
        seed: int = 0,
    ) -> Split:
        """Seeded, stratified validation split; optionally a stratified subset to train on."""
        n = len(self.train_labels)
        if not 0 <= validation_size < n:
            raise ValueError(
                f"validation_size must be between 0 and {n - 1}, not {validation_size}"
            )
        rng = np.random.default_rng(seed)
        all_idx = np.arange(n)
        val_idx = stratified_sample(self.train_labels, all_idx, validation_size, rng)
        rest = np.setdiff1d(all_idx, val_idx, assume_unique=True)
        if train_size is not None:
            if not 1 <= train_size <= len(rest):
                raise ValueError(
                    f"train_size must be between 1 and {len(rest)} "
                    f"(with {validation_size} held out for validation), not {train_size}"
                )
            rest = stratified_sample(self.train_labels, rest, train_size, rng)
        train_idx = rng.permutation(rest)
        return Split(
            x_train=self.train_images[train_idx],
            y_train=self.train_labels[train_idx],
            x_val=self.train_images[val_idx],
            y_val=self.train_labels[val_idx],
        )

    @cached_property
    def summary(self) -> dict:
        """Counts per class and checksum status, JSON-ready (what ``mnist info`` prints)."""
        return {
            "source": self.source,
            "checksums": "verified" if self.verified else "not checked (not the bundled files)",
            "train": len(self.train_labels),
            "test": len(self.test_labels),
            "train_counts": class_counts(self.train_labels).tolist(),
            "test_counts": class_counts(self.test_labels).tolist(),
        }


def stratified_sample(
    labels: np.ndarray, indices: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """``k`` of ``indices`` chosen so each class keeps its share (largest-remainder rounding)."""
    if k == 0:
        return np.empty(0, dtype=indices.dtype)
    sub = labels[indices]
    counts = np.bincount(sub, minlength=NUM_CLASSES)
    quota = counts * k / len(indices)
    take = np.floor(quota).astype(int)
    shortfall = k - int(take.sum())
    order = np.argsort(-(quota - take), kind="stable")  # biggest fractional parts first
    take[order[:shortfall]] += 1
    chosen = [rng.permutation(indices[sub == c])[: take[c]] for c in range(NUM_CLASSES) if take[c]]
    return np.sort(np.concatenate(chosen))


def sample_indices(
    labels: np.ndarray, k: int, digits: Sequence[int] | None = None, seed: int = 0
) -> np.ndarray:
    """Up to ``k`` random indices (seeded) of images whose label is in ``digits`` (all if None)."""
    pool = np.flatnonzero(np.isin(labels, digits)) if digits else np.arange(len(labels))
    rng = np.random.default_rng(seed)
    return rng.choice(pool, size=min(k, len(pool)), replace=False)


def class_counts(labels: np.ndarray) -> np.ndarray:
    """Images per digit: (10,) int64."""
    return np.bincount(labels, minlength=NUM_CLASSES)


def mean_images(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The average image of each digit: (10, 28, 28) float32 in 0–255."""
    out = np.zeros((NUM_CLASSES, *images.shape[1:]), dtype=np.float32)
    for c in range(NUM_CLASSES):
        members = images[labels == c]
        if len(members):
            out[c] = members.mean(axis=0, dtype=np.float64)
    return out


def pixel_histogram(images: np.ndarray, bins: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Pixel intensities 0–255 counted in ``bins`` equal bins: counts (bins,), edges (bins+1,)."""
    if not 1 <= bins <= 256:
        raise ValueError(f"bins must be between 1 and 256, not {bins}")
    per_value = np.bincount(images.reshape(-1), minlength=256)
    edges = np.linspace(0, 256, bins + 1)
    bin_of_value = np.minimum((np.arange(256) * bins) // 256, bins - 1)
    counts = np.bincount(bin_of_value, weights=per_value, minlength=bins).astype(np.int64)
    return counts, edges


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder to read: the argument, else ``$MNIST_DATA_DIR``, else the bundled copy."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV) or BUNDLED_DIR
    return Path(chosen).expanduser()


@functools.lru_cache(maxsize=8)
def _file_sha256(path: str, mtime: float, size: int) -> str:
    return hashlib.sha256(_read_bytes(Path(path))).hexdigest()


def fingerprint(data_dir: str | os.PathLike | None = None) -> dict:
    """Which data a run reads: the folder and each file's SHA-256 (of its uncompressed
    bytes). The bundled files' sums are known (and verified when they load)."""
    folder = resolve_data_dir(data_dir)
    if folder.resolve() == BUNDLED_DIR.resolve():
        return {"dir": "bundled", "sha256": dict(SHA256)}
    sums = {}
    for stem in FILES.values():
        try:
            path = _find(folder, stem)
            stat = path.stat()
        except (DataError, OSError):
            continue  # the worker will say what is missing
        sums[stem] = _file_sha256(str(path), stat.st_mtime, stat.st_size)
    return {"dir": str(folder.resolve()), "sha256": sums}


def load(data_dir: str | os.PathLike | None = None) -> Dataset:
    """Load all 70,000 images; the bundled files are checksum-verified, others are not."""
    folder = resolve_data_dir(data_dir)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder of MNIST IDX files")
    verify = folder.resolve() == BUNDLED_DIR.resolve()
    arrays = {}
    for role, stem in FILES.items():
        kind = "images" if role.endswith("images") else "labels"
        path = _find(folder, stem)
        arrays[role] = read_idx(path, kind=kind, sha256=SHA256[stem] if verify else None)
    for part in ("train", "test"):
        n_img, n_lab = len(arrays[f"{part}_images"]), len(arrays[f"{part}_labels"])
        if n_img != n_lab:
            raise DataError(f"{folder}: {n_img} {part} images but {n_lab} {part} labels")
    return Dataset(**arrays, source=str(folder), verified=verify)


def counts(data_dir: str | os.PathLike | None = None) -> dict:
    """What the home page shows, without decoding 70,000 images (a few ms, not ~0.2 s): the
    images of each part (from the label files) and whether the files are the bundled set
    (each stored file's SHA-256 against ``SHA256SUMS``)."""
    folder = resolve_data_dir(data_dir)
    labels = {
        role: read_idx(_find(folder, stem), kind="labels")
        for role, stem in FILES.items()
        if role.endswith("labels")
    }
    verified = False
    if folder.resolve() == BUNDLED_DIR.resolve():
        sums = dict(
            reversed(line.split()) for line in (folder / "SHA256SUMS").read_text().splitlines()
        )
        verified = all(
            hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
            for name, digest in sums.items()
        ) and len(sums) == len(FILES)
    return {
        "train": len(labels["train_labels"]),
        "test": len(labels["test_labels"]),
        "verified": verified,
    }


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) → float32 (N, 28, 28, 1) in 0–1, as the models expect."""
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]
