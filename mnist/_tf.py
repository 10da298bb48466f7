"""TensorFlow and Keras, imported without their start-up noise: ``from mnist._tf import keras``.

TensorFlow 2.21 writes half a dozen lines from C++ straight to file descriptor 2 while it
loads and when it first looks for devices (absl's "All log messages before
absl::InitializeLog()", oneDNN and CUDA notices, "failed call to cuInit" on a machine
without a GPU), whatever ``TF_CPP_MIN_LOG_LEVEL`` says. Nobody who runs the CLI or the
dashboard asked for them, and they buried the one line of error the CLI promises. So the
import runs with descriptor 2 sent to a buffer; afterwards the buffer is written back
without TensorFlow's own lines (anything else, from any thread, comes through). Set
``MNIST_VERBOSE=1`` (the CLI's ``--verbose``) to see everything.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

VERBOSE_ENV = "MNIST_VERBOSE"
NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\)"
    rb"|[IWE]\d{4} [\d:. ]+\s+\d+ \w+\.cc:\d+\]"
    rb"|To enable the following instructions:)"
)


@contextlib.contextmanager
def native_stderr_filtered():
    """Hold back what native code writes to descriptor 2; pass on what is not TF's noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().splitlines(keepends=True) if not NOISE.match(line)]
            if kept:
                sys.stderr.write(b"".join(kept).decode(errors="replace"))
                sys.stderr.flush()


def _load() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras  # noqa: F401
    import tensorflow as tf

    tf.config.list_physical_devices()  # the device probe (cuInit) speaks now, not later


if os.environ.get(VERBOSE_ENV) or "tensorflow" in sys.modules:
    _load()
else:
    with native_stderr_filtered():
        _load()

import keras  # noqa: E402  (loaded above, quietly)
import tensorflow as tf  # noqa: E402

__all__ = ["keras", "tf"]
