"""Names people choose (usernames, e-mail addresses): one spelling per identity.

A name is stored and returned in Unicode NFKC form, as it was sent; it is compared by
its *identity key*, the NFKC form case-folded (and normalised again, since folding can
undo NFKC). So ``Alice``, ``alice`` and fullwidth ``alice`` (U+FF41 and on) are one name, and a
unique index on the key column makes the database refuse the second, races included.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from cinema_common.jsonbody import email, invalid, is_blank, text

# Cc: control characters; Cf: format characters (zero-width space and joiners, RTL override,
# BOM, soft hyphen). Invisible or reordering, they let one name look like another.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf"})


def identity_key(name: str) -> str:
    """Return the form two names are compared in: NFKC, case-folded, NFKC again."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def _visible(field: str, value: str) -> str:
    normalised = unicodedata.normalize("NFKC", value)
    if any(unicodedata.category(char) in _HIDDEN_CATEGORIES for char in normalised):
        raise invalid(field, "free of control and format characters")
    if is_blank(normalised):
        raise invalid(field, "a non-empty string")
    return normalised


def username(body: dict[str, Any], field: str = "username", *, max_length: int = 100) -> str:
    """Return a required username in NFKC form.

    :raises ApiError: 400 when it is missing, blank, too long, or has control or format characters.
    """
    # The length limit is the sent form's: NFKC may lengthen a name (U+FDFA becomes 18 letters).
    return _visible(field, text(body, field, max_length=max_length))


def email_address(body: dict[str, Any], field: str = "email") -> str:
    """Return a required e-mail address in NFKC form.

    :raises ApiError: 400 when it is not an address or has control or format characters.
    """
    value = _visible(field, email(body, field))
    # NFKC may have made the address something else (a fullwidth @ becomes @): check it again.
    return email({field: value}, field)

