"""Text folding shared by search and detection, and the bidi controls nobody may show others.

Folding makes `Canakkale` meet `Çanakkale`, `Turkiye` meet `Türkiye` and `ERDOĞAN` meet `erdogan`.
Turkish dotted and dotless i are handled before the generic case fold, which would otherwise turn
`İ` into `i̇` (i plus a combining dot).
"""

from __future__ import annotations

import re
import unicodedata

_TURKISH_I = str.maketrans({"İ": "i", "I": "i", "ı": "i"})
# Korean headlines write the middle dot several ways; NFKC would turn U+318D into a jamo.
_MIDDLE_DOTS = str.maketrans({"\u318d": "·", "\u30fb": "·", "\u2027": "·", "\u2219": "·"})
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower-case, strip diacritics and fold Turkish i's; Hangul and Han are left intact."""
    text = unicodedata.normalize("NFKC", text.translate(_MIDDLE_DOTS)).translate(_TURKISH_I)
    text = text.casefold()
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    # Recompose so Hangul syllables (decomposed into jamo by NFD) come back whole.
    return _SPACES.sub(" ", unicodedata.normalize("NFC", kept)).strip()


_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """The folded words of `text`, in order."""
    return _WORD.findall(fold(text))


# Explicit bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): text
# carrying them can be displayed in an order other than it is stored ("gpj.exe" looks like
# "exe.jpg"), so feed titles and what admins type lose them before anyone else reads them.
BIDI_CONTROLS = frozenset(map(chr, (*range(0x202A, 0x202F), *range(0x2066, 0x206A))))
_NO_BIDI = str.maketrans(dict.fromkeys(BIDI_CONTROLS))


def strip_bidi(text: str) -> str:
    """`text` without bidirectional embedding, override and isolate characters."""
    return text.translate(_NO_BIDI)
