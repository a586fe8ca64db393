"""Salesforce record ids: 15-character case-sensitive ids and their 18-character case-safe form.

An id is a 3-character key prefix (the object type), then 12 characters, then (18-character form) a
3-character suffix that encodes which of the first 15 characters are upper case, so that the id survives
case-insensitive handling (e.g. in spreadsheets or SOQL string comparisons).
"""

from __future__ import annotations

import re

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_SHAPE = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$")

# Key prefixes of the objects the stand-in serves (the real org's prefixes; custom objects start with "a0").
QUERY_LOCATOR_PREFIX = "01g"
BULK_JOB_PREFIX = "750"
POD = "5g"  # the two "instance" characters after the prefix; fixed for the sandbox


def checksum_suffix(id15: str) -> str:
    """The 3-character case-safe suffix of a 15-character id.

    :param id15: a 15-character id.
    :return: one character per 5-character chunk, whose bit *i* is set when the chunk's *i*-th
        character is an upper-case letter.
    """
    suffix = []
    for start in (0, 5, 10):
        bits = 0
        for offset, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << offset
        suffix.append(_SUFFIX_ALPHABET[bits])
    return "".join(suffix)


def to_18(record_id: str) -> str:
    """Return the 18-character form of a valid 15- or 18-character id (correcting the case of an 18)."""
    if len(record_id) == 18:
        record_id = repair_case(record_id)
        return record_id
    return record_id + checksum_suffix(record_id)


def repair_case(id18: str) -> str:
    """Restore the case of the first 15 characters of an 18-character id from its suffix.

    Salesforce accepts 18-character ids in any case; this gives the canonical spelling.
    """
    chars = list(id18[:15])
    for chunk, code in enumerate(id18[15:18].upper()):
        bits = _SUFFIX_ALPHABET.index(code) if code in _SUFFIX_ALPHABET else 0
        for offset in range(5):
            pos = chunk * 5 + offset
            chars[pos] = chars[pos].upper() if bits & (1 << offset) else chars[pos].lower()
    return "".join(chars) + id18[15:18].upper()


def is_well_formed(record_id: str) -> bool:
    """True for a 15-character id, or an 18-character id whose suffix matches its first 15 characters."""
    if not isinstance(record_id, str) or not _ID_SHAPE.match(record_id):
        return False
    if len(record_id) == 15:
        return True
    suffix = record_id[15:].upper()
    if any(c not in _SUFFIX_ALPHABET for c in suffix):
        return False
    repaired = repair_case(record_id)
    return checksum_suffix(repaired[:15]) == suffix


def normalize(record_id: str) -> str | None:
    """The canonical 18-character id, or ``None`` when ``record_id`` is not a well-formed id."""
    if not is_well_formed(record_id):
        return None
    return to_18(record_id)


def base62(number: int, width: int) -> str:
    """``number`` in base 62, left-padded with zeros to ``width`` characters."""
    digits = []
    while number:
        number, rem = divmod(number, 62)
        digits.append(BASE62[rem])
    text = "".join(reversed(digits)) or "0"
    if len(text) > width:
        raise OverflowError(f"{number} does not fit in {width} base-62 digits")
    return text.rjust(width, "0")


def make_id(prefix: str, sequence: int) -> str:
    """An 18-character id for the ``sequence``-th record made by the sandbox, with key prefix ``prefix``."""
    # 3 (prefix) + 2 (pod) + 10 (sequence) = 15 characters; a mixed-case base-62 sequence exercises
    # the case-safe suffix the way real ids do.
    id15 = f"{prefix}{POD}{base62(sequence, 10)}"
    return id15 + checksum_suffix(id15)
