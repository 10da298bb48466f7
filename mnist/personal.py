"""A person's own handwritten digits: stored, split, counted, zipped and unzipped.

The set is a folder (``$MNIST_PERSONAL_DIR``, else ``personal/`` inside the runs folder)::

    digits/<d>/<id>.png    the 28×28 network input of a sample labelled d (8-bit grayscale,
                           light ink on black, made by ``mnist.sketch.read`` as MNIST was)
    drawings/<id>.png      the drawing it was made from, as drawn (optional)
    owner.json             whose set it is (``{"format_version": 1, "owner": ID}``), written
                           with its first sample; absent in older sets (the machine's user's)

Each person has their own set: the machine's own user (the CLI, a dashboard on localhost)
the folder above, anyone signed in to a shared dashboard ``people/<name>-<hash>/`` inside it
(``person_dir``).

A sample's id is ``<YYYYmmdd-HHMMSS>-<4 hex>-<train|test>``: the time it was saved, and the
part it belongs to, fixed when it is saved so a sample never moves between parts. Of each
digit's samples, every fifth (5th, 10th, …) is held out (``test``): fine-tuning never trains on
it, and before/after accuracy is measured on it. The label is the folder, so correcting it is
one rename. Every file is written to a temporary name and renamed, so a reload, a second tab or
a killed server never finds half a sample; the 28×28 file is written last, and its presence is
what makes a sample. Zip files for moving a set hold the same tree plus ``manifest.json``.
No TensorFlow, no Streamlit.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mnist import IMAGE_SIDE, NUM_CLASSES, access, i18n, runs
from mnist.i18n import _

PERSONAL_DIR_ENV = "MNIST_PERSONAL_DIR"
PERSONAL_DIR_NAME = "personal"  # inside the runs folder, unless $MNIST_PERSONAL_DIR says
MIN_PER_DIGIT = 5  # samples of each digit before fine-tuning: 4 to train on, 1 held out
HOLD_OUT_EVERY = 5  # every fifth sample of a digit is held out
ZIP_FORMAT = 1
MAX_ZIP_BYTES = 50 * 1024 * 1024  # a zip file to import, compressed
MAX_ZIP_MEMBERS = 20_000
MAX_INPUT_BYTES = 16 * 1024  # one 28×28 PNG (a few hundred bytes in practice)
MAX_DRAWING_BYTES = 2 * 1024 * 1024  # one drawing PNG, uncompressed size in the zip
MAX_DRAWING_PIXELS = 2048 * 2048
DRAWING_SIDE = 560  # a drawing or photo kept with a sample is shrunk to fit this square

TRAIN, TEST = "train", "test"
_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{4}-(train|test)$")
_MEMBER = re.compile(
    r"^(?:digits/([0-9])/|drawings/)(\d{8}-\d{6}-[0-9a-f]{4}-(?:train|test))\.png$"
)


class PersonalError(ValueError):
    """A sample, a set or a zip file that cannot be used, in words for the person (in the
    dashboard's language where the dashboard shows it; the CLI's are English)."""


def resolve_personal_dir(path: str | os.PathLike | None = None) -> Path:
    """The argument, else ``$MNIST_PERSONAL_DIR``, else ``personal/`` in the runs folder."""
    chosen = path or os.environ.get(PERSONAL_DIR_ENV)
    if chosen:
        return Path(chosen).expanduser().absolute()
    return runs.resolve_runs_dir() / PERSONAL_DIR_NAME


OWNER = "owner.json"
OWNER_FORMAT = 1
PEOPLE = "people"  # inside the machine's user's set: everyone else's


def person_dir(person_id: str | None, path: str | os.PathLike | None = None) -> Path:
    """Where ``person_id``'s set lives (None or the machine's user: the usual folder)."""
    root = resolve_personal_dir(path)
    if person_id is None or person_id == access.local_user():
        return root
    return root / PEOPLE / access.person_slug(person_id)


@dataclass(frozen=True)
class Sample:
    """One saved digit."""

    id: str
    digit: int
    path: Path  # its 28×28 PNG

    @property
    def held_out(self) -> bool:
        return self.id.endswith(TEST)

    @property
    def saved(self) -> float:
        """Unix time it was saved."""
        return time.mktime(time.strptime(self.id[:15], "%Y%m%d-%H%M%S"))


@dataclass(frozen=True)
class Arrays:
    """A set as arrays: uint8 (N, 28, 28) images and (N,) labels, per part."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def save(self, path: Path) -> None:
        """As one ``.npz`` (written whole, then renamed)."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, **self.__dict__)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Arrays:
        with np.load(path, allow_pickle=False) as data:
            return cls(**{k: data[k] for k in ("x_train", "y_train", "x_test", "y_test")})


@dataclass(frozen=True)
class ImportReport:
    added: int
    already_there: int


def to_uint8(x: np.ndarray) -> np.ndarray:
    """A (28, 28[, 1]) network input in 0–1 (or uint8) → (28, 28) uint8."""
    x = np.asarray(x)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.shape != (IMAGE_SIDE, IMAGE_SIDE):
        raise PersonalError(
            _("a sample is a 28×28 image, not {shape}").format(shape="×".join(map(str, x.shape)))
        )
    if x.dtype == np.uint8:
        return x
    x = np.asarray(x, np.float32)
    if not np.isfinite(x).all():
        raise PersonalError(_("a sample's pixels must be finite numbers"))
    return np.round(np.clip(x, 0.0, 1.0) * 255).astype(np.uint8)


def _png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    """``runs.write_bytes_atomic``, making the digit's folder first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    runs.write_bytes_atomic(path, data)


def _check_digit(digit: int) -> int:
    if isinstance(digit, bool) or not isinstance(digit, (int, np.integer)) or not 0 <= digit <= 9:
        raise PersonalError(
            _("a label is a digit from 0 to 9, not {label}").format(label=repr(digit))
        )
    return int(digit)


def _read_input_png(data: bytes, name: str) -> np.ndarray:
    """A stored 28×28 input's bytes → (28, 28) uint8, or ``PersonalError``."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.size != (IMAGE_SIDE, IMAGE_SIDE):
                raise PersonalError(
                    _("{name}: a sample must be 28×28 pixels, not {size}").format(
                        name=name, size=image.size
                    )
                )
            return np.asarray(image.convert("L"), np.uint8)
    except PersonalError:
        raise
    except Exception:  # PIL raises many kinds for a damaged file
        raise PersonalError(_("{name}: not a readable PNG image").format(name=name)) from None


class PersonalSet:
    """The samples in one folder (made on first save)."""

    def __init__(self, root: str | os.PathLike | None = None, owner: str | None = None) -> None:
        self.root = resolve_personal_dir(root)
        self._owner = owner  # recorded in owner.json with the first sample written

    @classmethod
    def of(cls, person_id: str | None) -> PersonalSet:
        """``person_id``'s own set (None: the machine's user's)."""
        return cls(person_dir(person_id), person_id or access.local_user())

    @property
    def owner(self) -> str:
        """Whose set this is: as recorded, else the machine's user."""
        try:
            return access.owner_of(runs.read_json(self.root / OWNER).get("owner"))
        except runs.RunError:
            return access.owner_of(self._owner)

    def _claim(self) -> None:
        if self._owner and not (self.root / OWNER).exists():
            self.root.mkdir(parents=True, exist_ok=True)
            runs.write_json_atomic(
                self.root / OWNER, {"format_version": OWNER_FORMAT, "owner": self._owner}
            )

    # -- reading -------------------------------------------------------------------------
    def samples(self) -> list[Sample]:
        """Every sample, oldest first."""
        found = []
        for digit in range(NUM_CLASSES):
            folder = self.root / "digits" / str(digit)
            if not folder.is_dir():
                continue
            for path in folder.glob("*.png"):
                if _ID.match(path.stem):
                    found.append(Sample(path.stem, digit, path))
        return sorted(found, key=lambda s: s.id)

    def counts(self) -> np.ndarray:
        """(10, 2) int: samples of each digit to train on, and held out."""
        table = np.zeros((NUM_CLASSES, 2), int)
        for s in self.samples():
            table[s.digit, int(s.held_out)] += 1
        return table

    def needed(self) -> dict[int, int]:
        """Digit → how many more samples it needs before fine-tuning (only digits short):
        ``MIN_PER_DIGIT`` in all, one of them held out and one to train on. A digit whose
        held-out sample was relabelled or deleted needs one more (the next one is held out)."""
        needs = {}
        for d, (train, held) in enumerate(self.counts()):
            more = max(MIN_PER_DIGIT - int(train + held), int(held == 0 or train == 0))
            if more:
                needs[d] = more
        return needs

    def image(self, sample: Sample) -> np.ndarray:
        """A sample's (28, 28) uint8 input."""
        return _read_input_png(sample.path.read_bytes(), sample.path.name)

    def drawing_path(self, sample_id: str) -> Path | None:
        path = self.root / "drawings" / f"{sample_id}.png"
        return path if path.is_file() else None

    def arrays(self) -> Arrays:
        """The whole set as arrays, each part in saving order."""
        parts: dict[bool, tuple[list, list]] = {False: ([], []), True: ([], [])}
        for s in self.samples():
            try:
                image = self.image(s)
            except (OSError, PersonalError):
                continue  # deleted meanwhile, or damaged by hand: not a sample
            parts[s.held_out][0].append(image)
            parts[s.held_out][1].append(s.digit)

        def stack(images: list, labels: list) -> tuple[np.ndarray, np.ndarray]:
            x = np.stack(images) if images else np.zeros((0, IMAGE_SIDE, IMAGE_SIDE), np.uint8)
            return x.astype(np.uint8), np.asarray(labels, np.uint8)

        x_train, y_train = stack(*parts[False])
        x_test, y_test = stack(*parts[True])
        return Arrays(x_train, y_train, x_test, y_test)

    def fingerprint(self) -> str:
        """SHA-256 over every sample's id, label and pixels: the same set, the same value."""
        digest = hashlib.sha256()
        for s in self.samples():
            try:
                pixels = self.image(s).tobytes()
            except (OSError, PersonalError):
                continue
            digest.update(f"{s.id}:{s.digit}:".encode() + pixels)
        return digest.hexdigest()

    # -- changing ------------------------------------------------------------------------
    def _new_id(self, digit: int) -> str:
        counts = self.counts()[digit]
        # Held out: the 5th, 10th, … sample of this digit.
        held = counts[1] < (counts.sum() + 1) // HOLD_OUT_EVERY
        while True:
            sample_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}-" + (
                TEST if held else TRAIN
            )
            if not any(self.root.glob(f"digits/*/{sample_id}.png")):
                return sample_id

    def add(self, x: np.ndarray, digit: int, drawing: np.ndarray | None = None) -> Sample:
        """Save a 28×28 input ``x`` (0–1 floats or uint8) labelled ``digit``, with the drawing
        (an RGBA or grayscale array) it was made from."""
        digit = _check_digit(digit)
        pixels = to_uint8(x)
        self._claim()
        sample_id = self._new_id(digit)
        if drawing is not None:
            picture = Image.fromarray(np.asarray(drawing, np.uint8))
            picture.thumbnail((DRAWING_SIDE, DRAWING_SIDE))  # a photo need not stay 12 MP
            _write_atomic(self.root / "drawings" / f"{sample_id}.png", _png_bytes(picture))
        path = self.root / "digits" / str(digit) / f"{sample_id}.png"
        _write_atomic(path, _png_bytes(Image.fromarray(pixels, "L")))
        return Sample(sample_id, digit, path)

    def find(self, sample_id: str) -> Sample:
        if not _ID.match(sample_id or ""):
            raise PersonalError(
                _("{sample_id} is not a sample id").format(sample_id=repr(sample_id))
            )
        for s in self.samples():
            if s.id == sample_id:
                return s
        raise PersonalError(
            _("sample {sample_id} is not in {folder} (deleted?)").format(
                sample_id=sample_id, folder=self.root
            )
        )

    def relabel(self, sample_id: str, digit: int) -> Sample:
        """Give a sample another label (its part stays)."""
        digit = _check_digit(digit)
        sample = self.find(sample_id)
        if sample.digit == digit:
            return sample
        dest = self.root / "digits" / str(digit) / sample.path.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(sample.path, dest)
        return Sample(sample.id, digit, dest)

    def delete(self, sample_id: str) -> None:
        """Remove a sample: its input first (then it is no sample), then its drawing."""
        sample = self.find(sample_id)
        sample.path.unlink(missing_ok=True)
        drawing = self.drawing_path(sample_id)
        if drawing is not None:
            drawing.unlink(missing_ok=True)

    # -- zip files -----------------------------------------------------------------------
    def to_zip(self) -> bytes:
        """The whole set as a zip file: ``manifest.json``, ``digits/``, ``drawings/``."""
        samples = self.samples()
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            manifest = {
                "format_version": ZIP_FORMAT,
                "kind": "mnist-cnn-studio personal digits",
                "samples": len(samples),
                "fingerprint": self.fingerprint(),
                "created": time.time(),
            }
            zf.writestr("manifest.json", json.dumps(manifest, indent=1))
            for s in samples:
                try:
                    zf.writestr(f"digits/{s.digit}/{s.id}.png", s.path.read_bytes())
                except FileNotFoundError:
                    continue  # deleted while zipping
                drawing = self.drawing_path(s.id)
                if drawing is not None:
                    zf.write(drawing, f"drawings/{s.id}.png")
        return out.getvalue()

    def import_zip(self, source: bytes | str | os.PathLike) -> ImportReport:
        """Add the samples of a zip made by ``to_zip`` (a sample already here is skipped).

        Every member is checked before anything is written: names, sizes (a zip bomb is
        refused from its directory, before inflating), that each input is a 28×28 PNG.
        """
        name = None  # bytes (the dashboard's upload): "the file"
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            name = str(path)
            if not path.is_file():
                raise PersonalError(f"{path}: no such file")
            if path.stat().st_size > MAX_ZIP_BYTES:
                raise PersonalError(f"{path}: larger than {MAX_ZIP_BYTES // 2**20} MB")
            source = path.read_bytes()
        if len(source) > MAX_ZIP_BYTES:
            mb = MAX_ZIP_BYTES // 2**20
            raise PersonalError(
                f"{name} is larger than {mb} MB"
                if name
                else _("the file is larger than {mb} MB").format(mb=i18n.number(mb))
            )
        try:
            zf = zipfile.ZipFile(io.BytesIO(source))
        except (zipfile.BadZipFile, ValueError):
            raise PersonalError(
                f"{name} is not a zip file" if name else _("the file is not a zip file")
            ) from None
        with zf:
            inputs, drawings = self._checked_members(zf)
            existing = {s.id for s in self.samples()}
            added = 0
            self._claim()
            for sample_id, (digit, data) in sorted(inputs.items()):
                if sample_id in existing:
                    continue
                if sample_id in drawings:
                    _write_atomic(self.root / "drawings" / f"{sample_id}.png",
                                  drawings[sample_id])  # fmt: skip
                _write_atomic(self.root / "digits" / str(digit) / f"{sample_id}.png", data)
                added += 1
        return ImportReport(added=added, already_there=len(inputs) - added)

    @staticmethod
    def _checked_members(zf: zipfile.ZipFile) -> tuple[dict, dict]:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise PersonalError(
                _("the zip file holds more than {n} files").format(n=i18n.number(MAX_ZIP_MEMBERS))
            )
        names = {i.filename for i in infos}
        if "manifest.json" not in names:
            raise PersonalError(
                _("not a set of digits made by MNIST CNN Studio (no manifest.json)")
            )
        try:
            manifest = json.loads(zf.read("manifest.json")[:65536])
            version = manifest["format_version"]
        except (ValueError, KeyError, TypeError):
            raise PersonalError(_("the zip file's manifest.json is damaged")) from None
        if not isinstance(version, int) or version > ZIP_FORMAT:
            raise PersonalError(
                _(
                    "the zip file is format {version}, newer than this version reads ({supported})"
                ).format(version=repr(version), supported=ZIP_FORMAT)
            )
        inputs: dict[str, tuple[int, bytes]] = {}
        drawings: dict[str, bytes] = {}
        for info in infos:
            name = info.filename
            if name == "manifest.json" or info.is_dir():
                continue
            match = _MEMBER.match(name)
            if not match:
                raise PersonalError(
                    _("the zip file holds {name}, which is not a sample").format(name=repr(name))
                )
            limit = MAX_INPUT_BYTES if match.group(1) is not None else MAX_DRAWING_BYTES
            if info.file_size > limit:
                raise PersonalError(
                    _("{name} is too large ({size} bytes)").format(
                        name=name, size=i18n.number(info.file_size)
                    )
                )
            data = zf.read(info)
            if len(data) > limit:  # the directory lied about the size
                raise PersonalError(_("{name} is too large").format(name=name))
            if match.group(1) is not None:
                _read_input_png(data, name)
                inputs[match.group(2)] = (int(match.group(1)), data)
            else:
                _check_drawing(data, name)
                drawings[match.group(2)] = data
        return inputs, drawings


def _check_drawing(data: bytes, name: str) -> None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_DRAWING_PIXELS:
                raise PersonalError(
                    _("{name}: {width}×{height} pixels is too large a drawing").format(
                        name=name, width=width, height=height
                    )
                )
            if image.format != "PNG":
                raise PersonalError(_("{name}: not a PNG image").format(name=name))
    except PersonalError:
        raise
    except Exception:
        raise PersonalError(_("{name}: not a readable PNG image").format(name=name)) from None
