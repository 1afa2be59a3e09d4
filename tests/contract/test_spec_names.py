"""The spec's username and e-mail patterns accept exactly what the server accepts, character by character."""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

import pytest
import yaml

from cinema_common import names
from cinema_common.errors import ApiError

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text())
FIELDS = SPEC["components"]["schemas"]["UserInput"]["properties"]
# Every BMP character, and above it every character in the planes' sparse parts: 1 in 61, plus each
# Cc and Cf character (all of the astral format characters), so the whole check takes a second or two.
CODE_POINTS = [chr(cp) for cp in range(sys.maxunicode + 1) if not 0xD800 <= cp <= 0xDFFF and (
    cp <= 0xFFFF or cp % 61 == 0 or unicodedata.category(chr(cp)) in ("Cc", "Cf"))]


def _server_accepts(read, field: str, value: str) -> bool:
    try:
        read({field: value})
    except ApiError:
        return False
    return True


@pytest.mark.parametrize(("field", "read", "shape"), [
    ("username", names.username, "{}"),          # a name of one character: blank or not
    ("username", names.username, "x{}y"),        # one character inside a name: hidden or not
    ("email", names.email_address, "a{}b@example.com"),
    ("email", names.email_address, "ab@ex{}ample.com"),
])
def test_every_code_point_is_judged_alike_by_the_spec_and_the_server(field, read, shape):
    pattern = re.compile(FIELDS[field]["pattern"])
    disagreements = [f"U+{ord(char):04X}" for char in CODE_POINTS
                     if bool(pattern.fullmatch(value := shape.format(char))) != _server_accepts(read, field, value)]
    assert disagreements == []
