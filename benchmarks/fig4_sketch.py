"""Figure 4, sketch latency: a drawing to its ten probabilities, in this process."""

from __future__ import annotations

import time

from benchmarks.common import Row, median


def sketch_latency(quick: bool, reps: int) -> Row:
    import numpy as np
    from PIL import Image, ImageDraw

    from mnist import DEFAULT_MODEL
    from mnist.models import load_model
    from mnist.sketch import classify, preprocess

    model = load_model(DEFAULT_MODEL)
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(canvas).line([(70, 50), (210, 50), (120, 240)], fill="white", width=22)
    rgba = np.asarray(canvas)
    n = 20 if quick else 200
    ours, predict = [], []
    for _ in range(10):  # warm-up: graph tracing, allocator
        classify(model, preprocess(rgba, photo=False))
        model.predict(preprocess(rgba, photo=False)[None], verbose=0)
    for i in range(n):
        t = time.perf_counter()
        classify(model, preprocess(rgba, photo=False))
        ours.append(time.perf_counter() - t)
        if i % 5 == 0:  # interleaved, fewer: predict is the slow one
            x = preprocess(rgba, photo=False)
            t = time.perf_counter()
            model.predict(x[None], verbose=0)
            predict.append(time.perf_counter() - t)
    med, p95 = median(ours) * 1000, float(np.percentile(ours, 95)) * 1000
    return Row("4 sketch latency",
               f"preprocess + `predict_on_batch`: median {med:.1f} ms, p95 {p95:.1f} ms; "
               f"`model.predict` alone {median(predict) * 1000:.1f} ms (ratio "
               f"{median(ours) / median(predict):.2f})",
               f"{med:.1f} ms", "median ≤ 20 ms", med <= 20)  # fmt: skip
