"""Telegram's text entities: the HTML parse mode, UTF-16 lengths, bot command entities.

Pure functions without state. Telegram counts offsets and lengths in UTF-16 code units, so
every length here is converted; byte offsets in error messages are UTF-8, like Telegram's.
"""

from __future__ import annotations

import re
from typing import Final

from bot.standin.errors import JSONDict, parse_error

__all__ = ["command_entities", "parse_html", "strip_text", "utf16_len"]


def utf16_len(s: str) -> int:
    """Length of ``s`` in UTF-16 code units (Telegram's unit for offsets and lengths)."""
    return len(s) if s.isascii() else len(s.encode("utf-16-le")) >> 1


def _byte_offset(text: str, pos: int) -> int:
    """UTF-8 byte offset of ``text[pos]``: Telegram's unit in parse error messages."""
    return len(text[:pos].encode())


_HTML_TAGS: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_SPECIAL_RE: Final = re.compile(r"[<&]")
_HTML_ENTITY_RE: Final = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|([a-zA-Z]+));")
_NAMED_ENTITIES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_START_TAG_RE: Final = re.compile(
    r"<([a-zA-Z][a-zA-Z0-9-]*)"
    r"((?:\s+[a-zA-Z][\w-]*(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?)*)\s*>"
)
_END_TAG_RE: Final = re.compile(r"</([^>]*)>")
_ATTR_RE: Final = re.compile(r"([a-zA-Z][\w-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_TAG_NAME_RE: Final = re.compile(r"[^\s>]*")


def _decode_entity(text: str, pos: int, source: str, base: int) -> tuple[str, int]:
    """Decode the HTML entity at ``text[pos]`` (an ``&``); returns (char, end position)."""
    m = _HTML_ENTITY_RE.match(text, pos)
    if m is not None:
        dec, hexa, name = m.groups()
        if name is not None:
            ch = _NAMED_ENTITIES.get(name)
            if ch is not None:
                return ch, m.end()
        else:
            code = int(dec) if dec is not None else int(hexa, 16)
            if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                return chr(code), m.end()
    raise parse_error(
        f'Character "&" must be escaped as "&amp;" or start a supported entity '
        f"(&lt; &gt; &amp; &quot; &#N;) at byte offset {_byte_offset(source, base + pos)}"
    )


def _decode_attr(value: str, source: str, base: int) -> str:
    if "&" not in value:
        return value
    out: list[str] = []
    pos = 0
    while (amp := value.find("&", pos)) >= 0:
        out.append(value[pos:amp])
        ch, pos = _decode_entity(value, amp, source, base)
        out.append(ch)
    out.append(value[pos:])
    return "".join(out)


def parse_html(text: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram HTML like the Bot API does; returns (plain text, entities).

    Raises :class:`ApiError` (400, "Bad Request: can't parse entities: ...") on invalid input.
    Stricter than Telegram in one point: a bare ``&`` that does not start a valid entity is an
    error (Telegram keeps it literally), so the bot is forced to escape user input properly.
    """
    if "<" not in text and "&" not in text:  # a bare '>' is allowed, like on Telegram
        return text, []
    out: list[str] = []
    entities: list[JSONDict] = []
    # stack entries: (tag name, utf16 start, entity dict, byte offset source position)
    stack: list[tuple[str, int, JSONDict, int]] = []
    pos16 = 0
    pos = 0
    n = len(text)
    search = _SPECIAL_RE.search
    while pos < n:
        m = search(text, pos)
        if m is None:
            chunk = text[pos:]
            out.append(chunk)
            pos16 += utf16_len(chunk)
            break
        i = m.start()
        if i > pos:
            chunk = text[pos:i]
            out.append(chunk)
            pos16 += utf16_len(chunk)
        if text[i] == "&":
            ch, pos = _decode_entity(text, i, text, 0)
            out.append(ch)
            pos16 += 2 if ord(ch) > 0xFFFF else 1
            continue
        # a tag
        if text.startswith("</", i):
            em = _END_TAG_RE.match(text, i)
            if em is None:
                raise parse_error(f"Unclosed end tag at byte offset {_byte_offset(text, i)}")
            name = em.group(1).strip().lower()
            if not stack:
                raise parse_error(f"Unexpected end tag at byte offset {_byte_offset(text, i)}")
            open_name, start16, entity, _src = stack[-1]
            if name != open_name:
                raise parse_error(
                    f'Unmatched end tag at byte offset {_byte_offset(text, i)}, expected "</'
                    f'{open_name}>", found "</{name}>"'
                )
            stack.pop()
            length = pos16 - start16
            if entity.get("type") == "code" and stack and stack[-1][0] == "pre":
                language = entity.pop("_language", None)
                if language:
                    stack[-1][2]["language"] = language
                entity = {}  # code inside pre only sets the language
            if entity and length > 0:
                entity.pop("_language", None)
                entity["offset"] = start16
                entity["length"] = length
                entities.append(entity)
            pos = em.end()
            continue
        sm = _START_TAG_RE.match(text, i)
        if sm is None:
            nm = _TAG_NAME_RE.match(text, i + 1)
            raw_name = nm.group(0).lower() if nm else ""
            if raw_name not in _HTML_TAGS:
                raise parse_error(
                    f'Unsupported start tag "{raw_name}" at byte offset {_byte_offset(text, i)}'
                )
            if text.find(">", i) < 0:
                raise parse_error(f"Unclosed start tag at byte offset {_byte_offset(text, i)}")
            raise parse_error(
                f'Invalid attributes in the tag "{raw_name}" at byte offset {_byte_offset(text, i)}'
            )
        name = sm.group(1).lower()
        etype = _HTML_TAGS.get(name)
        if etype is None:
            raise parse_error(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}'
            )
        attrs: dict[str, str] = {}
        if sm.group(2):
            for am in _ATTR_RE.finditer(sm.group(2)):
                value = am.group(2) or am.group(3) or am.group(4) or ""
                attrs[am.group(1).lower()] = _decode_attr(value, text, i)
        entity = {"type": etype}
        if name == "a":
            href = attrs.get("href")
            if not href:
                raise parse_error(
                    f'Tag "a" must have attribute "href" at byte offset {_byte_offset(text, i)}'
                )
            entity["url"] = href
        elif name == "span":
            if attrs.get("class") != "tg-spoiler":
                raise parse_error(
                    f'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{_byte_offset(text, i)}"
                )
        elif name == "tg-emoji":
            emoji_id = attrs.get("emoji-id", "")
            if not emoji_id.isdigit():
                raise parse_error(
                    f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset '
                    f"{_byte_offset(text, i)}"
                )
            entity["custom_emoji_id"] = emoji_id
        elif name == "blockquote":
            if "expandable" in attrs:
                entity["type"] = "expandable_blockquote"
        elif name == "code":
            cls = attrs.get("class", "")
            if cls.startswith("language-"):
                entity["_language"] = cls[9:]
        stack.append((name, pos16, entity, i))
        pos = sm.end()
    if stack:
        raise parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def strip_text(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trim leading/trailing whitespace like Telegram does, fixing entity offsets."""
    stripped = text.strip()
    if len(stripped) == len(text) or not stripped:
        return stripped, entities
    if not entities:
        return stripped, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    fixed: list[JSONDict] = []
    for e in entities:
        start = max(0, e["offset"] - lead)
        end = min(total, e["offset"] + e["length"] - lead)
        if end > start:
            fixed.append({**e, "offset": start, "length": end - start})
    return stripped, fixed


_COMMAND_RE: Final = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")


def command_entities(text: str) -> list[JSONDict]:
    """The ``bot_command`` entities Telegram adds to a user's message (``/start@visitbot``)."""
    if "/" not in text:
        return []
    ascii_text = text.isascii()
    result: list[JSONDict] = []
    for m in _COMMAND_RE.finditer(text):
        start, end = m.span()
        if ascii_text:
            offset, length = start, end - start
        else:
            offset, length = utf16_len(text[:start]), utf16_len(m.group(0))
        result.append({"type": "bot_command", "offset": offset, "length": length})
    return result
