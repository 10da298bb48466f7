"""The dashboard's languages: gettext message catalogs and locale-aware numbers (Babel).

English is the source language: the strings in the code are the English text, marked with
``_()`` (translated where it is called), ``N_()`` (a constant, translated where it is shown)
or ``ngettext()``. ``pybabel`` extracts them into ``mnist/locale/messages.pot``; each
language has ``mnist/locale/<code>/LC_MESSAGES/messages.po`` (the translation) and
``messages.mo`` (what is loaded, compiled by ``pybabel compile``). See ``mnist/locale/README.md``.

Which language a call speaks is decided when it is made, by a *language source*: a function
returning a code from ``LANGUAGES``. The library never imports Streamlit; ``mnist.ui``
registers a source that reads the browser session's choice. With no source — the CLI, the
training worker, Ray trials — everything is English, so the CLI and the run folders' records
stay English whatever the dashboard speaks.
"""

from __future__ import annotations

import contextlib
import functools
import gettext
import re
import string
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path

LANGUAGES = {"en": "English", "ko": "한국어"}  # code → the language's own name
SOURCE_LANGUAGE = "en"
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_source: Callable[[], str | None] | None = None
_forced: ContextVar[str | None] = ContextVar("mnist_language", default=None)


def set_language_source(
    source: Callable[[], str | None] | None,
) -> Callable[[], str | None] | None:
    """Make ``source()`` decide the language of every later call (None: English again);
    returns the source it replaces."""
    global _source
    previous, _source = _source, source
    return previous


@contextlib.contextmanager
def use_language(code: str) -> Iterator[None]:
    """Speak ``code`` inside the block, whatever the source says (tests, one-off renders)."""
    token = _forced.set(supported(code))
    try:
        yield
    finally:
        _forced.reset(token)


def supported(code: str | None) -> str:
    """The language of ``LANGUAGES`` that ``code`` ("ko", "ko-KR", "ko_KR", "EN") asks for;
    English for anything else."""
    if not code:
        return SOURCE_LANGUAGE
    base = str(code).replace("_", "-").split("-")[0].strip().lower()
    return base if base in LANGUAGES else SOURCE_LANGUAGE


def language() -> str:
    """The code of the language this call speaks."""
    forced = _forced.get()
    if forced is not None:
        return forced
    if _source is None:
        return SOURCE_LANGUAGE
    return supported(_source())


@functools.cache
def catalog(code: str) -> gettext.NullTranslations:
    """The compiled catalog of ``code`` (English: the identity)."""
    if code == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[code])


def _(message: str) -> str:
    """``message`` in the current language."""
    return _text(catalog(language()).gettext(message))


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Mark ``message`` for translation without translating it: a constant is translated by
    ``_()`` where it is shown, in the language of the person looking."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """``singular`` or ``plural`` for ``n``, in the current language's plural rules."""
    return _text(catalog(language()).ngettext(singular, plural, n))


def pgettext(context: str, message: str) -> str:
    """``message`` in the current language, told apart by ``context`` from the same English
    word with another meaning ("Run" the noun, "Run" the verb)."""
    return _text(catalog(language()).pgettext(context, message))


# Korean particles after a value. A Korean template cannot know whether ``{digit}`` ends in a
# consonant, so it writes both forms, "{digit}(으)로", "{id}을(를)"; once the value is in, the
# one that fits it is kept ("7로", "3으로", "…-ab12를"). A value whose sound the code cannot tell
# (a Latin letter) keeps both forms, which every Korean reader understands.
_PARTICLES = {  # both forms → (after a final consonant, after none)
    "(으)로": ("으로", "로"),
    "을(를)": ("을", "를"),
    "를(을)": ("을", "를"),
    "이(가)": ("이", "가"),
    "가(이)": ("이", "가"),
    "은(는)": ("은", "는"),
    "는(은)": ("은", "는"),
    "과(와)": ("과", "와"),
    "와(과)": ("과", "와"),
}
_PARTICLE = re.compile(
    r"(?P<word>[^\s*`\"'’”]+)(?P<marks>[*`\"'’”]*)(?P<both>"
    + "|".join(re.escape(p) for p in _PARTICLES)
    + ")"
)
# The last sound of each digit as read in Korean: 영 일 이 삼 사 오 육 칠 팔 구.
_DIGIT_CODA = {"0": "ㅇ", "1": "ㄹ", "2": "", "3": "ㅁ", "4": "", "5": "", "6": "ㄱ", "7": "ㄹ",
               "8": "ㄹ", "9": ""}  # fmt: skip
_RIEUL = 8  # ㄹ, the one final consonant "(으)로" treats as none


def _coda(char: str) -> str | None:
    """The final consonant of ``char`` as read aloud ("" none, "ㄹ", or "+" any other), None
    if the code cannot tell (a Latin letter, a sign)."""
    if "가" <= char <= "힣":
        final = (ord(char) - ord("가")) % 28
        return "" if final == 0 else "ㄹ" if final == _RIEUL else "+"
    return _DIGIT_CODA.get(char)


def korean_particles(text: str) -> str:
    """``text`` with each "(으)로"-style pair after a word reduced to the form that fits it."""

    def fit(match: re.Match) -> str:
        coda = _coda(match["word"][-1])
        if coda is None:
            return match[0]
        after_consonant, after_vowel = _PARTICLES[match["both"]]
        if match["both"] == "(으)로":
            chosen = after_vowel if coda in ("", "ㄹ") else after_consonant
        else:
            chosen = after_consonant if coda else after_vowel
        return match["word"] + match["marks"] + chosen

    return _PARTICLE.sub(fit, text)


class _Korean(str):
    """A Korean template: ``format`` fits the particles to the values put in."""

    def format(self, *args, **kwargs) -> str:
        return korean_particles(str.format(self, *args, **kwargs))


def _text(text: str) -> str:
    if language() == "ko" and "(" in text:
        return _Korean(korean_particles(text) if "{" not in text else text)
    return text


def placeholders(text: str) -> list[str]:
    """The ``{name}`` fields of a ``str.format`` template, sorted (the catalog check)."""
    try:
        names = [field for _lit, field, _spec, _conv in string.Formatter().parse(text) if field]
    except ValueError:
        return ["<unbalanced braces>"]
    return sorted(names)


# Numbers. Babel knows each locale's separators and percent pattern; these are the only
# ways the dashboard turns a number into text a person reads.


def _pattern(kind: str, digits: int | None):
    """The locale's own pattern for ``kind`` ("decimal" or "percent") with ``digits`` fixed
    decimals (None: the locale's default)."""
    import copy

    from babel import Locale

    locale = Locale.parse(language())
    pattern = getattr(locale, f"{kind}_formats")[None]
    if digits is not None:
        pattern = copy.copy(pattern)
        pattern.frac_prec = (digits, digits)
    return pattern, locale


def number(value: float, digits: int | None = None) -> str:
    """``value`` with the locale's grouping and decimal sign; ``digits`` fixed decimals
    (None: as many as it has, up to three)."""
    pattern, locale = _pattern("decimal", digits)
    return pattern.apply(value, locale)


def percent(fraction: float, digits: int = 1) -> str:
    """``fraction`` (0.9932) as the locale writes a percentage, ``digits`` decimals ("99.3%")."""
    pattern, locale = _pattern("percent", digits)
    return pattern.apply(fraction, locale)
