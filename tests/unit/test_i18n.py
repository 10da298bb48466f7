"""The catalogs (every marked string has a Korean entry that keeps its placeholders and
markup; the template and the compiled catalog are up to date) and mnist.i18n itself."""

from __future__ import annotations

import gettext
import io
import os
import re
import subprocess
import sys

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from mnist import i18n
from tests.conftest import ROOT

LOCALE = ROOT / "mnist" / "locale"
KO_PO = LOCALE / "ko" / "LC_MESSAGES" / "messages.po"
KO_MO = LOCALE / "ko" / "LC_MESSAGES" / "messages.mo"
SOURCE_DIRS = {"pages", "mnist"}  # what babel.cfg reads, besides app.py


def extracted() -> dict[object, tuple[object, str]]:
    """Every marked message of the code, as pybabel extracts it with ``babel.cfg``:
    key (msgid, or (context, msgid)) → (msgid or (singular, plural), "file:line")."""
    method_map, options_map = parse_mapping_cfg(io.StringIO((LOCALE / "babel.cfg").read_text()))

    def wanted(path: str) -> bool:
        return os.path.relpath(path, ROOT).split(os.sep)[0] in SOURCE_DIRS

    found = {}
    for filename, line, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, directory_filter=wanted
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault((context, msgid) if context else msgid, (message, f"{filename}:{line}"))
    return found


def korean():
    with KO_PO.open("rb") as f:
        return read_po(f, locale="ko")


def entry_key(message) -> object:
    msgid = message.id[0] if isinstance(message.id, tuple) else message.id
    return (message.context, msgid) if message.context else msgid


MARKUP = {
    "placeholders": lambda t: i18n.placeholders(t),
    "bold": lambda t: t.count("**"),
    "code spans": lambda t: t.count("`"),
    "icons": lambda t: sorted(re.findall(r":material/[a-z_]+:", t)),
    "links": lambda t: sorted(re.findall(r"\]\(([^)]*)\)", t)),
    "line breaks": lambda t: t.count("\n"),
}


def test_every_marked_string_has_a_korean_entry_that_keeps_its_markup():
    catalog = korean()
    entries = {entry_key(m): m for m in catalog if m.id}
    problems = []
    for key, (message, where) in sorted(extracted().items(), key=lambda kv: kv[1][1]):
        entry = entries.get(key)
        if entry is None:
            problems.append(f"{where}: no Korean entry for {key!r}")
            continue
        if entry.fuzzy:
            problems.append(f"{where}: the Korean entry of {key!r} is fuzzy")
        sources = message if isinstance(message, tuple) else (message,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for text in strings:
            if not text.strip():
                problems.append(f"{where}: the Korean entry of {key!r} is empty")
                continue
            for name, measure in MARKUP.items():
                want = measure(sources[-1])
                if name == "placeholders" and len(sources) > 1:
                    want = sorted(set(measure(sources[0])) | set(measure(sources[1])))
                    got = sorted(set(measure(text)))
                else:
                    got = measure(text)
                if name == "code spans":  # Korean may set a code name as code, never lose one
                    ok = got >= want and got % 2 == 0
                else:
                    ok = got == want
                if not ok:
                    problems.append(f"{where}: {name} differ in {key!r}: {want!r} → {got!r}")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


def test_korean_emphasis_closes_where_markdown_can_close_it():
    """CommonMark does not close ``*`` or ``**`` between punctuation and a letter: in
    ``**합성곱(convolution)**은`` the stars stay on the screen. The gloss goes after the
    emphasis instead: ``**합성곱**(convolution)은``."""
    unclosed = re.compile(r"[)\]\"'’.,:;!?»]\*{1,2}(?=\w)")
    bad = [
        text
        for message in korean()
        if message.id
        for text in (message.string if isinstance(message.string, tuple) else (message.string,))
        if unclosed.search(text)
    ]
    assert not bad, bad


def test_the_korean_catalog_has_no_entry_the_code_no_longer_uses():
    used = set(extracted())
    stale = [entry_key(m) for m in korean() if m.id and entry_key(m) not in used]
    assert not stale, f"run pybabel extract and update (mnist/locale/README.md): {stale}"


def test_the_template_is_what_extraction_gives_today():
    with (LOCALE / "messages.pot").open("rb") as f:
        template = {entry_key(m) for m in read_po(f) if m.id}
    assert template == set(extracted()), "run pybabel extract (mnist/locale/README.md)"


def test_the_compiled_catalog_is_the_translation():
    with KO_MO.open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    for message in korean():
        if not message.id:
            continue
        if message.context:
            assert compiled.pgettext(message.context, message.id) == message.string
        elif isinstance(message.id, tuple):
            assert compiled.ngettext(*message.id, 2) == message.string[0], message.id
        else:
            assert compiled.gettext(message.id) == message.string, "run pybabel compile"


def test_the_language_a_browser_asks_for():
    assert i18n.supported("ko-KR") == i18n.supported("ko_KR") == i18n.supported("KO") == "ko"
    assert i18n.supported("en-GB") == i18n.supported("fr-FR") == i18n.supported(None) == "en"


def test_without_a_session_everything_is_english_and_a_block_can_ask_for_korean():
    assert i18n.language() == "en"  # no source, or mnist.ui's outside a script run
    assert i18n._("Overview") == "Overview"
    with i18n.use_language("ko"):
        assert i18n.language() == "ko"
        assert i18n._("Overview") == "개요"
        assert i18n._("a text no one marked") == "a text no one marked"
    assert i18n._("Overview") == "Overview"


def test_the_source_decides_each_call():
    asked = ["ko"]
    previous = i18n.set_language_source(lambda: asked[0])
    try:
        assert i18n._("Overview") == "개요"
        asked[0] = "de-DE"  # not a language of the app: English
        assert i18n._("Overview") == "Overview"
    finally:
        i18n.set_language_source(previous)  # mnist.ui's, if an app test imported it


@pytest.mark.parametrize(
    ("code", "values", "wanted"),
    [
        ("en", (60000, 0.99321), ("60,000", "99.3%", "99.32%", "0.125")),
        ("ko", (60000, 0.99321), ("60,000", "99.3%", "99.32%", "0.125")),
    ],
)
def test_numbers_follow_the_locale(code, values, wanted):
    count, share = values
    with i18n.use_language(code):
        got = (i18n.number(count), i18n.percent(share), i18n.percent(share, 2), i18n.number(0.125))
    assert got == wanted


def test_a_language_with_other_separators_would_get_them():
    """Babel's data decides, not the code: the German patterns come out German."""
    from babel import Locale

    pattern = Locale.parse("de").decimal_formats[None]
    assert pattern.apply(60000.5, Locale.parse("de")) == "60.000,5"


def test_the_cli_stays_english_whatever_the_machine_speaks(tmp_path):
    """The library's messages are marked for the dashboard; the CLI still prints them in
    English on a Korean machine (no session asks for another language)."""
    env = {**os.environ, "LANG": "ko_KR.UTF-8", "LC_ALL": "ko_KR.UTF-8", "LANGUAGE": "ko"}
    env["MNIST_RUNS_DIR"] = str(tmp_path / "runs")
    out = subprocess.run(
        [sys.executable, "-m", "mnist", "train", "--epochs", "0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode != 0
    assert "must be at least 1" in out.stderr, out.stderr
    assert not re.search("[\uac00-\ud7a3]", out.stdout + out.stderr)


def test_the_librarys_messages_speak_the_language_of_the_call():
    """A refusal or a run's error reads in the dashboard session's language; the same call
    elsewhere (the CLI) stays English."""
    from mnist import access, runs

    def refusal() -> str:
        with pytest.raises(access.NotAllowed) as caught:
            access.check_may_change(access.ANONYMOUS, "alice", "stop run 20261207-010203-ab12")
        return str(caught.value)

    english = refusal()
    assert "20261207-010203-ab12" in english and not re.search("[\uac00-\ud7a3]", english)
    with i18n.use_language("ko"):
        korean = refusal()
    assert "20261207-010203-ab12" in korean and re.search("[\uac00-\ud7a3]", korean)

    # What the worker wrote (English, on disk) is shown in Korean with its values kept.
    stored = runs.DIVERGED.format(
        where=runs.AT_BATCH.format(epoch=2, batch=17),
        what=runs.LOSS_BECAME.format(loss="nan"),
    )
    assert runs.error_text(stored) == stored
    with i18n.use_language("ko"):
        shown = runs.error_text(stored)
        assert shown == i18n._(runs.DIVERGED).format(
            where=i18n._(runs.AT_BATCH).format(epoch=2, batch=17),
            what=i18n._(runs.LOSS_BECAME).format(loss="nan"),
        )
        assert re.search("[\uac00-\ud7a3]", shown) and "17" in shown
        assert runs.error_text("ValueError: a Python error") == "ValueError: a Python error"


@pytest.mark.parametrize(
    ("text", "fitted"),
    [
        ("3(으)로", "3으로"),  # 삼: a final consonant
        ("7(으)로", "7로"),  # 칠: ㄹ, which (으)로 treats as none
        ("2(으)로", "2로"),  # 이: none
        ("**6**(으)로", "**6**으로"),  # through Markdown
        ("곱(으)로", "곱으로"),
        ("팔(으)로", "팔로"),
        ("20261207-010203-ab12을(를)", "20261207-010203-ab12를"),
        ("블록 4이(가)", "블록 4가"),
        ("모델은(는)", "모델은"),
        ("run-abcf을(를)", "run-abcf을(를)"),  # a Latin letter: both forms stay
    ],
)
def test_korean_particles_fit_the_word_before_them(text, fitted):
    assert i18n.korean_particles(text) == fitted


def test_a_korean_template_fits_its_particles_to_the_values():
    with i18n.use_language("ko"):
        template = i18n._("Save as {digit}")
        assert "(으)로" in template  # the catalog writes both forms …
        assert template.format(digit=3) == "3으로 저장"  # … the value picks one
        assert template.format(digit=8) == "8로 저장"
    assert i18n._("Save as {digit}").format(digit=3) == "Save as 3"
