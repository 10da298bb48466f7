"""What a person reads on a page under AppTest, and the English words left in it.

``visible_texts`` walks every element's protobuf (labels, bodies, help texts, options,
captions, metric values), the Vega-Lite specs of charts (titles of charts, axes, legends and
tooltips) and the Arrow tables of dataframes (column names and string cells).

``english_words`` finds the words of a text that are English prose. Not English prose:
- a gloss in parentheses right after Korean text, as the glossary writes terms:
  ``합성곱(convolution)``, ``학습률 (learning rate)``, ``**합성곱**(convolution)``;
- code (a backtick span, a token with a digit, ``_``, ``/``, ``.``, ``@`` or ``=`` in it),
  links, icons (``:material/home:``);
- the code names, product names and units of ``ALLOWED``.
"""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Iterator

# Names a Korean text keeps as they are: products, Keras classes and arguments, units, data
# set and people's names, preset names. Lower-case; keep it short.
ALLOWED = {
    # products and formats
    "mnist", "nist", "cnn", "tensorflow", "tensorflow.js", "keras", "onnx", "onnxruntime",
    "litert", "tflite", "ray", "tune", "asha", "streamlit", "tensorboard", "chromium", "png",
    "jpeg", "jpg", "csv", "json", "zip", "oidc", "url", "id", "cpu", "gpu", "bf", "avx",
    "python", "numpy", "savedmodel", "http", "https", "ok",
    "keras-io",  # the repository of the Keras examples, cited by a reference line
    # Keras and ML names a learner types
    "dense", "flatten", "dropout", "relu", "elu", "gelu", "selu", "sigmoid", "swish", "tanh",
    "softmax", "adam", "adamw", "sgd", "rmsprop",
    "grad", "cam", "sne", "t-sne", "fgsm", "batchnormalization", "globalaveragepooling",
    "conv", "maxpooling", "averagepooling", "same", "valid", "he", "glorot",
    # units
    "px", "ms", "kb", "mb", "gb", "gib", "mib", "dpi",
    # the data set's authors (a citation), licences
    "yann", "lecun", "corinna", "cortes", "christopher", "burges", "cc", "by", "sa",
    # preset names, as a run's config.json stores them (data, shown as they are); "edited" is
    # one the browser tests give their runs
    "codelab", "fast", "best", "edited",
}  # fmt: skip

_HANGUL = "\uac00-\ud7a3\u3131-\u318e"
_GLOSS = re.compile(rf"([{_HANGUL}][*_]{{0,2}})\s?\([^()]*\)")  # after emphasis too
_CODE = re.compile(r"`[^`]*`")
_LINK = re.compile(r"\]\([^)]*\)|https?://\S+|:material/[a-z_]+:")
_CODEISH = re.compile(r"[\d_/@=\\]|\w\.\w")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]")


def english_words(text: str) -> list[str]:
    """The words of ``text`` that are English prose (see the module's docstring)."""
    text = html.unescape(text)  # Markdown shows "&nbsp;" as a space
    text = _LINK.sub(" ", _CODE.sub(" ", text))
    text = _GLOSS.sub(r"\1 ", text)
    words = []
    for token in text.split():
        if _CODEISH.search(token):
            continue
        for word in _WORD.findall(token):
            if word.lower() not in ALLOWED and word.lower().strip("'’-") not in ALLOWED:
                words.append(word)
    return words


# Fields of element protos that are not read as text by a person.
_SKIP_FIELDS = {
    "id", "icon", "tag", "format", "raw_value", "theme", "selection_mode", "name", "spec",
    "type", "form_id", "url", "mimetype", "data", "key", "element_type", "file_id",
    "page_script_hash", "page", "vega_lite_theme", "default", "value", "color", "markup",
    "src", "fragment_id", "container", "widget_id", "use_container_width", "arrow_data",
    "gap", "width", "height", "page_name", "hash", "script_hash", "accept", "types", "styles",
    "column_order", "columns", "editing_mode", "deploy_params", "component_name", "json_args",
    "body_hash", "sha", "region", "anchor", "shortcut", "scope", "mode",
    # code a page shows as code (st.code: a command line) and a component's own source
    "code_text", "language", "engine", "js_source_path", "css_source_path", "html_content", "json",
}  # fmt: skip


def _proto_strings(msg) -> Iterator[str]:
    for fd, val in msg.ListFields():
        if fd.name in _SKIP_FIELDS:
            continue
        values = val if fd.is_repeated else [val]
        for v in values:
            if fd.type == fd.TYPE_MESSAGE:
                yield from _proto_strings(v)
            elif fd.type == fd.TYPE_STRING:
                yield v


def _spec_strings(spec: object, key: str = "") -> Iterator[str]:
    """The titles and texts of a Vega-Lite spec (not its data or field names)."""
    if isinstance(spec, dict):
        for k, v in spec.items():
            if k in ("datasets", "data", "$schema", "config"):
                continue
            if k in ("title", "text", "description") and isinstance(v, str):
                yield v
            elif k in ("title", "text") and isinstance(v, list):
                yield from (x for x in v if isinstance(x, str))
            else:
                yield from _spec_strings(v, k)
    elif isinstance(spec, list):
        for item in spec:
            yield from _spec_strings(item, key)


def _arrow_strings(data: bytes) -> Iterator[str]:
    import pyarrow as pa

    table = pa.ipc.open_stream(io.BytesIO(data)).read_all()
    for name in table.column_names:
        if not name.startswith("__index_level_"):
            yield name
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            yield from (v for v in column.to_pylist() if isinstance(v, str))


def _walk(node) -> Iterator[object]:
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _walk(child)


def visible_texts(at) -> list[str]:
    """Every text of the page ``at`` shows (main area and sidebar)."""
    texts: list[str] = []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is None:
            continue
        texts.extend(_proto_strings(proto))
        spec = getattr(proto, "spec", None)
        if isinstance(spec, str) and spec.startswith("{"):
            texts.extend(_spec_strings(json.loads(spec)))
        data = getattr(proto, "data", None)
        if isinstance(data, bytes) and data:
            texts.extend(_arrow_strings(data))
        arrow = getattr(proto, "arrow_data", None)
        if arrow is not None and getattr(arrow, "data", b""):
            texts.extend(_arrow_strings(arrow.data))
    return [t for t in texts if t.strip()]
