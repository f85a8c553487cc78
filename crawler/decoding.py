"""Page bytes to clean text, the way browsers read them, bounded in size.

Encoding is where a crawler meets the wild: a BOM, UTF-8 that declares itself
latin-1, cp1252 quotes. These rules live apart from parsing so they can be
read, and tested, on their own; nothing here ever raises.
"""

from __future__ import annotations

import re
import unicodedata

# Parsing is bounded: a runaway page (or a mis-served binary) is cut, not parsed whole.
MAX_CHARS = 5_000_000

# lxml refuses a str that carries an encoding declaration; the bytes are decoded by now.
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>", re.IGNORECASE)
# lxml refuses NUL and most C0 controls ("All strings must be XML compatible").
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)


def page_text(html: bytes | str) -> str:
    """At most MAX_CHARS characters of `html` as NFC text that lxml accepts."""
    text = html if isinstance(html, str) else decode_html(html[: MAX_CHARS * 4])
    text = _CONTROL.sub("", _XML_DECL.sub("", text[:MAX_CHARS]))
    # NFC, as trafilatura does for its own input: keyword matching downstream
    # must not depend on whether a site sends "é" composed or decomposed.
    return unicodedata.normalize("NFC", text)


def decode_html(data: bytes) -> str:
    """Bytes to text the way browsers do it, without ever raising.

    BOM first; then strict UTF-8, because cp1252 text is almost never valid
    UTF-8 while many pages that declare latin-1 are UTF-8 in fact; then the
    declared charset; then cp1252 with replacement characters.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    m = _META_CHARSET.search(data[:4096])
    declared = m.group(1).decode("ascii", "ignore").lower() if m else ""
    # Browsers read latin-1 and ascii as windows-1252 (WHATWG), and so do we.
    if declared in ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii", "utf-8", "utf8"):
        declared = "cp1252"
    try:
        return data.decode(declared or "cp1252", errors="replace")
    except LookupError:  # a charset name Python does not know
        return data.decode("cp1252", errors="replace")
