"""Render the architecture diagrams with Debian's PlantUML and check the committed images.

    python3 docs/architecture/render.py          draw every *.puml here as .svg and .png (`make diagrams`)
    python3 docs/architecture/render.py --check  fail if a source does not render or an image is stale

Each image is stamped with the SHA-256 of what it was drawn from: the diagram source and
every local file it ``!include``s (the shared style). An image is stale when its stamp
differs from the digest of the sources as they are now. Pixels, layout and fonts are
never compared, since they differ between machines and PlantUML releases; whether the
sources still render is checked by rendering them.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

DIAGRAM_DIR = Path(__file__).resolve().parent
PLANTUML = "plantuml"
STAMP_KEY = "cinemaabyss-source-sha256"
# PlantUML crops any image larger than this, silently (PLANTUML_LIMIT_SIZE).
MAX_PIXELS = 4096
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEY = STAMP_KEY.encode("ascii") + b"\0"
_SVG_STAMP = re.compile(rf"<!--{STAMP_KEY}:([0-9a-f]*)-->")
# A local include; <...> names the standard library, which comes with PlantUML itself.
_LOCAL_INCLUDE = re.compile(r"^\s*!include\s+([^<\s]\S*)\s*$", re.MULTILINE)


class RenderError(RuntimeError):
    """PlantUML is missing, or it could not draw a diagram."""


def sources(directory: Path = DIAGRAM_DIR) -> list[Path]:
    """Return the diagram sources in a directory, sorted by name."""
    return sorted(directory.glob("*.puml"))


def render(files: list[Path], fmt: str, out_dir: Path | None = None, timeout: float = 300) -> None:
    """Draw every file in one PlantUML run, beside its source or into ``out_dir``.

    :raises RenderError: when plantuml is missing, fails, or reports a syntax error.
    """
    if shutil.which(PLANTUML) is None:
        raise RenderError("plantuml is not installed: apt-get install plantuml (.ci/run does it)")
    command = [PLANTUML, f"-t{fmt}", "-charset", "UTF-8", "-failfast2"]
    if out_dir is not None:
        command += ["-o", str(out_dir.resolve())]
    result = subprocess.run(command + [str(f) for f in files], capture_output=True, text=True,
                            timeout=timeout, check=False)
    # A syntax error gives exit status 200. A missing graphviz gives 0 and an error picture,
    # reported only by a stack trace on stderr, which is otherwise silent but for the JVM's
    # "Picked up JAVA_TOOL_OPTIONS" kind of notice.
    complaints = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("Picked up ")]
    if result.returncode != 0 or complaints:
        raise RenderError(f"plantuml exited with {result.returncode}: " + "\n".join(complaints))


def source_digest(source: Path) -> str:
    """Return the SHA-256 (hex) of a diagram source and of every local file it includes.

    :raises FileNotFoundError: when an included file does not exist.
    """
    digest = hashlib.sha256()
    for path in _with_includes(source.resolve(), []):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _with_includes(path: Path, seen: list[Path]) -> list[Path]:
    if path in seen:
        return seen
    seen.append(path)
    for name in _LOCAL_INCLUDE.findall(path.read_text(encoding="utf-8")):
        _with_includes((path.parent / name).resolve(), seen)
    return seen


def read_svg_stamp(svg: str) -> str | None:
    """Return the source digest stamped into an SVG, or None if it has none."""
    match = _SVG_STAMP.search(svg)
    return match.group(1) if match else None


def stamp_svg(svg: str, digest: str) -> str:
    """Return the SVG with ``digest`` as its only source stamp, a comment before ``</svg>``."""
    svg = _SVG_STAMP.sub("", svg)
    end = svg.rindex("</svg>")
    return f"{svg[:end]}<!--{STAMP_KEY}:{digest}-->{svg[end:]}"


def svg_size(svg: str) -> tuple[int, int]:
    """Return the width and height an SVG declares on its root element, in pixels."""
    root = svg[svg.index("<svg "):svg.index(">", svg.index("<svg ")) + 1]
    width = re.search(r'\swidth="(\d+)px"', root)
    height = re.search(r'\sheight="(\d+)px"', root)
    if width is None or height is None:
        raise ValueError("the SVG root declares no pixel size")
    return int(width.group(1)), int(height.group(1))


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    if not png.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    chunks, offset = [], len(_PNG_SIGNATURE)
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset:offset + 4])
        kind = png[offset + 4:offset + 8]
        chunks.append((kind, png[offset + 8:offset + 8 + length]))
        offset += 12 + length
    return chunks


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_size(png: bytes) -> tuple[int, int]:
    """Return the width and height of a PNG image, from its header."""
    kind, header = _chunks(png)[0]
    if kind != b"IHDR":
        raise ValueError("PNG without an IHDR header")
    width, height = struct.unpack(">II", header[:8])
    return width, height


def read_png_stamp(png: bytes) -> str | None:
    """Return the source digest stamped into a PNG, or None if it has none."""
    for kind, data in _chunks(png):
        if kind == b"tEXt" and data.startswith(_PNG_KEY):
            return data[len(_PNG_KEY):].decode("latin-1")
    return None


def stamp_png(png: bytes, digest: str) -> bytes:
    """Return the PNG with ``digest`` as its only source stamp, a ``tEXt`` chunk before IEND."""
    kept = [(kind, data) for kind, data in _chunks(png) if not (kind == b"tEXt" and data.startswith(_PNG_KEY))]
    text = (b"tEXt", _PNG_KEY + digest.encode("ascii"))
    kept.insert(len(kept) - 1, text)
    return _PNG_SIGNATURE + b"".join(_chunk(kind, data) for kind, data in kept)


def build(directory: Path = DIAGRAM_DIR) -> list[Path]:
    """Draw every source as SVG and PNG beside it and stamp both images; return the sources."""
    files = sources(directory)
    render(files, "svg")
    render(files, "png")
    for source in files:
        digest = source_digest(source)
        svg, png = source.with_suffix(".svg"), source.with_suffix(".png")
        # As bytes: PlantUML ends some lines with CRLF, which text mode would rewrite.
        svg.write_bytes(stamp_svg(svg.read_bytes().decode("utf-8"), digest).encode("utf-8"))
        png.write_bytes(stamp_png(png.read_bytes(), digest))
    return files


def problems(directory: Path = DIAGRAM_DIR) -> list[str]:
    """Render every source into a scratch directory, then list what is missing or stale."""
    files = sources(directory)
    with tempfile.TemporaryDirectory(prefix="diagrams-") as scratch:
        render(files, "svg", Path(scratch))
        found = [f"{f.name} rendered no SVG" for f in files if not (Path(scratch) / f"{f.stem}.svg").is_file()]
    return found + [problem for f in files for problem in compare(f)]


def compare(source: Path) -> list[str]:
    """List how the images committed beside ``source`` fail to match it as it is now."""
    expected = source_digest(source)
    svg_path, png_path = source.with_suffix(".svg"), source.with_suffix(".png")
    missing = [f"{path.name} is missing: run make diagrams" for path in (svg_path, png_path) if not path.is_file()]
    if missing:
        return missing
    svg, png = svg_path.read_bytes().decode("utf-8"), png_path.read_bytes()
    found = [f"{path.name} is stale: run make diagrams"
             for path, stamp in ((svg_path, read_svg_stamp(svg)), (png_path, read_png_stamp(png)))
             if stamp != expected]
    width, height = png_size(png)
    if max(width, height) >= MAX_PIXELS:
        found.append(f"{png_path.name} is {width}x{height}: PlantUML crops at {MAX_PIXELS} pixels")
    svg_width, svg_height = svg_size(svg)
    # PlantUML draws both from one layout; the PNG is a pixel smaller. More means another render.
    if abs(svg_width - width) > 2 or abs(svg_height - height) > 2:
        found.append(f"{png_path.name} ({width}x{height}) and {svg_path.name} ({svg_width}x{svg_height}) "
                     "come from different renders: run make diagrams")
    return found


def main(argv: list[str] | None = None) -> int:
    """Render the diagrams, or with --check report what is stale; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="render into a scratch directory and compare")
    args = parser.parse_args(argv)
    try:
        if args.check:
            found = problems()
            for problem in found:
                print(problem, file=sys.stderr)
            return 1 if found else 0
        for source in build():
            print(f"rendered {source.with_suffix('.svg').name} and {source.with_suffix('.png').name}")
    except RenderError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
