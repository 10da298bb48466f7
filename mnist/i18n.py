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
    return catalog(language()).gettext(message)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Mark ``message`` for translation without translating it: a constant is translated by
    ``_()`` where it is shown, in the language of the person looking."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """``singular`` or ``plural`` for ``n``, in the current language's plural rules."""
    return catalog(language()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the current language, told apart by ``context`` from the same English
    word with another meaning ("Run" the noun, "Run" the verb)."""
    return catalog(language()).pgettext(context, message)


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
