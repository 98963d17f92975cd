"""Text people type, cleaned of the invisible characters that let one name pass for another.

`visible(text)` removes, wherever they stand:

- the bidirectional controls (U+202A-U+202E embeddings and overrides, U+2066-U+2069 isolates, the
  marks U+200E, U+200F and U+061C): a right-to-left override shows "Acme\u202eevil" as "Acmelive";
- the zero-width and invisible characters: zero-width space U+200B, word joiner U+2060, byte order
  mark U+FEFF, Mongolian vowel separator U+180E, the invisible operators U+2061-U+2064, soft hyphen
  U+00AD, combining grapheme joiner U+034F and the Hangul fillers U+3164, U+FFA0 (blank "names").

The zero-width joiner U+200D and non-joiner U+200C are kept where they do something: between two
characters of a script or symbol set that uses them (emoji sequences such as 👨‍👩‍👧, Persian,
Arabic, the Indic scripts). They are removed where they can only hide: at either end, beside a
space, an ASCII character or a Latin, Greek, Cyrillic, Chinese, Japanese or Korean letter, or beside
another invisible character. Everything else stays exactly as typed.
"""
import re
import unicodedata

_INVISIBLE = re.compile(
    "[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"  # bidirectional controls
    "\u200b\u2060\ufeff\u180e\u2061-\u2064\u00ad\u034f\u3164\uffa0]"  # zero-width and blank characters
)
_JOINERS = "\u200c\u200d"
_JOINERLESS_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC", "CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO")


def visible(text: str) -> str:
    """The text without invisible characters that could spoof how it looks (see the module's rule)."""
    text = _INVISIBLE.sub("", text)
    if "\u200c" not in text and "\u200d" not in text:
        return text
    return "".join(ch for i, ch in enumerate(text) if ch not in _JOINERS or _joins(text, i))


def _joins(text: str, index: int) -> bool:
    """Whether the joiner at index stands between two characters that can use it."""
    if index == 0 or index == len(text) - 1:
        return False
    return _may_join(text[index - 1]) and _may_join(text[index + 1])


def _may_join(ch: str) -> bool:
    if ch.isascii() or ch.isspace() or ch in _JOINERS:
        return False
    if unicodedata.category(ch) in ("Zs", "Zl", "Zp", "Cc", "Cf"):
        return False
    return not unicodedata.name(ch, "").startswith(_JOINERLESS_SCRIPTS)
