"""Text folding shared by search and detection.

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
