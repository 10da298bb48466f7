"""MNIST CNN Studio: data, models, training runs, evaluation and sketches — no Streamlit here.

Submodules that need TensorFlow (``models``, ``training``, ``evaluation``) import it themselves;
importing ``mnist`` or its configs stays fast.
"""

import os
from pathlib import Path

# Quiet TensorFlow's C++ start-up chatter (CUDA probes) in every process that uses the package.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

NUM_CLASSES = 10  # digits 0–9
IMAGE_SIDE = 28  # MNIST images are 28×28
INPUT_SHAPE = (IMAGE_SIDE, IMAGE_SIDE, 1)  # (H, W, C): one grayscale channel
TRAIN_IMAGES = 60_000  # MNIST's training set; the validation images are held out of it
TEST_IMAGES = 10_000
VALIDATION_IMAGES = 5_000  # held out of the training images by default: 55,000 / 5,000


def _bundled(name: str) -> Path:
    """A file of the repository's models/ folder, installed as mnist/bundled/ by pip."""
    here = Path(__file__).resolve().parent
    installed = here / "bundled" / name
    return installed if installed.exists() else here.parent / "models" / name


# The bundled model the dashboard and the CLI use until a run is selected (see models/README.md).
DEFAULT_MODEL = _bundled("default.keras")
