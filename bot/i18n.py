"""The message catalogue: every user-facing string, in English, Korean and Turkish.

Strings live in gettext catalogues (`bot/locales/<lang>/LC_MESSAGES/visitbot.po`), keyed by a
symbolic id such as `start.body`, read with Babel. Templates are Telegram HTML with `{name}`
placeholders. `t()` escapes every value unless it is marked `Html`, so user text can never
break a message or inject markup.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from functools import cache
from importlib import resources
from string import Formatter
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from storage.textfold import strip_bidi

LANGUAGES = ("en", "ko", "tr")
DEFAULT_LANGUAGE = "en"
DOMAIN = "visitbot"


class Html(str):
    """A string that is already valid Telegram HTML and must not be escaped again."""

    __slots__ = ()


def escape(text: object) -> Html:
    """Escape outside text for Telegram HTML (it accepts &lt; &gt; &amp; &quot;).

    Bidi overrides go too: input is cleaned when it arrives, and this is the last line for
    text stored before that (or reaching a message some other way), which could otherwise
    make a message read in an order it was not written.
    """
    return Html(html.escape(strip_bidi(str(text)), quote=True))


@cache
def _catalog(lang: str) -> dict[str, str]:
    path = resources.files("bot").joinpath(f"locales/{lang}/LC_MESSAGES/{DOMAIN}.po")
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        catalog: Catalog = read_po(handle, locale=lang)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string}


def keys(lang: str) -> set[str]:
    """Every key with a translation in `lang` (for completeness tests)."""
    return set(_catalog(lang))


def language_for(code: str | None) -> str:
    """Map Telegram's `language_code` (e.g. 'ko', 'tr-TR', 'en-GB') to a catalogue language."""
    if code:
        base = code.split("-")[0].split("_")[0].lower()
        if base in LANGUAGES:
            return base
    return DEFAULT_LANGUAGE


def resolve_language(chosen: str | None, code: str | None) -> str:
    """The language to speak: an explicit `/language` choice wins, else Telegram's code.

    A stored choice that is no longer a catalogue language (data from an older release, a
    typo in the database) is ignored rather than trusted, so `t()` always gets a real one.
    """
    if chosen in LANGUAGES:
        return str(chosen)
    return language_for(code)


def reading_language(
    interface: str, code: str | None, languages: Sequence[str], *, chosen: bool = False
) -> str:
    """The language to show a visit's own texts in (names, facts, the programme).

    A reader whose Telegram language has no interface catalogue but is one of the visit's
    (Arabic, for the Egypt visit) reads the visit's texts in it, around English interface text;
    an explicit `/language` choice (`chosen`), or a language with a catalogue, reads in the
    interface language when the visit has it; English, every text's fallback, otherwise.
    """
    base = code.split("-")[0].split("_")[0].lower() if code else ""
    if not chosen and base and base not in LANGUAGES and base in languages:
        return base
    if interface in languages:
        return interface
    return base if base in languages else DEFAULT_LANGUAGE


def placeholders(template: str) -> set[str]:
    """The `{name}` placeholders of a template (for checking translations against English)."""
    return {name for _, name, _, _ in Formatter().parse(template) if name is not None}


def template(lang: str, key: str) -> str | None:
    """The raw template of `key` in `lang` only (no English fallback), or None."""
    return _catalog(lang).get(key)


def t(lang: str, key: str, **params: Any) -> Html:
    """The template `key` in `lang` (English when missing), with escaped parameters filled in."""
    template = _catalog(lang).get(key) or _catalog(DEFAULT_LANGUAGE).get(key)
    if template is None:
        raise KeyError(f"no message {key!r} in the catalogue")
    safe = {
        name: value if isinstance(value, Html) else escape(value) for name, value in params.items()
    }
    return Html(template.format(**safe))
