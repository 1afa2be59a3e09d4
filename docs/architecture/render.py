"""Render the architecture diagrams with Debian's PlantUML and check the committed images.

    python3 docs/architecture/render.py          draw every *.puml here as .svg and .png (`make diagrams`)
    python3 docs/architecture/render.py --check  fail if a source does not render or an image is stale

PlantUML writes the preprocessed source, every ``!include`` expanded, into each SVG it
draws. That text depends on neither fonts nor the JVM, so it makes a robust staleness
check: a committed SVG is current when it embeds the same source as a fresh render does.
A PNG carries no source, so each one is stamped with the SHA-256 of that text in a PNG
``tEXt`` chunk. Layout and fonts are never compared: they differ between machines.
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
STAMP_KEY = b"cinemaabyss-source-sha256"
# PlantUML crops any image larger than this, silently (PLANTUML_LIMIT_SIZE).
MAX_PIXELS = 4096
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_EMBEDDED = re.compile(r"<!--MD5=\[[0-9a-f]+\]\n(@startuml\n.*?\n@enduml)\n", re.DOTALL)


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


def embedded_source(svg: str) -> str:
    """Return the preprocessed source that PlantUML embedded in an SVG it drew.

    :raises ValueError: when the SVG holds no PlantUML source.
    """
    match = _EMBEDDED.search(svg)
    if match is None:
        raise ValueError("no embedded PlantUML source: not drawn by PlantUML, or drawn with -nometadata")
    return match.group(1)


def source_digest(svg: str) -> str:
    """Return the SHA-256 (hex) of the source embedded in an SVG."""
    return hashlib.sha256(embedded_source(svg).encode()).hexdigest()


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


def read_stamp(png: bytes) -> str | None:
    """Return the source digest stamped into a PNG, or None if it has none."""
    for kind, data in _chunks(png):
        if kind == b"tEXt" and data.startswith(STAMP_KEY + b"\0"):
            return data[len(STAMP_KEY) + 1:].decode("latin-1")
    return None


def stamp(png: bytes, digest: str) -> bytes:
    """Return the PNG with ``digest`` as its only source stamp, just before IEND."""
    kept = [(kind, data) for kind, data in _chunks(png)
            if not (kind == b"tEXt" and data.startswith(STAMP_KEY + b"\0"))]
    text = (b"tEXt", STAMP_KEY + b"\0" + digest.encode("ascii"))
    kept.insert(len(kept) - 1, text)
    return _PNG_SIGNATURE + b"".join(_chunk(kind, data) for kind, data in kept)


def build(directory: Path = DIAGRAM_DIR) -> list[Path]:
    """Draw every source as SVG and PNG beside it and stamp the PNGs; return the sources."""
    files = sources(directory)
    render(files, "svg")
    render(files, "png")
    for source in files:
        digest = source_digest(source.with_suffix(".svg").read_text(encoding="utf-8"))
        png = source.with_suffix(".png")
        png.write_bytes(stamp(png.read_bytes(), digest))
    return files


def problems(directory: Path = DIAGRAM_DIR) -> list[str]:
    """Render every source afresh into a scratch directory; list what is missing or stale."""
    files = sources(directory)
    with tempfile.TemporaryDirectory(prefix="diagrams-") as scratch:
        render(files, "svg", Path(scratch))
        fresh = {f.stem: (Path(scratch) / f"{f.stem}.svg").read_text(encoding="utf-8") for f in files}
    return [problem for f in files for problem in compare(f, fresh[f.stem])]


def compare(source: Path, fresh_svg: str) -> list[str]:
    """List how the images committed beside ``source`` differ from a fresh SVG render of it."""
    found = []
    expected = embedded_source(fresh_svg)
    svg_path, png_path = source.with_suffix(".svg"), source.with_suffix(".png")
    if not svg_path.is_file():
        return [f"{svg_path.name} is missing: run make diagrams"]
    committed_svg = svg_path.read_text(encoding="utf-8")
    if embedded_source(committed_svg) != expected:
        found.append(f"{svg_path.name} is stale: run make diagrams")
    if not png_path.is_file():
        return [*found, f"{png_path.name} is missing: run make diagrams"]
    png = png_path.read_bytes()
    if read_stamp(png) != hashlib.sha256(expected.encode()).hexdigest():
        found.append(f"{png_path.name} is stale or unstamped: run make diagrams")
    width, height = png_size(png)
    if max(width, height) >= MAX_PIXELS:
        found.append(f"{png_path.name} is {width}x{height}: PlantUML crops at {MAX_PIXELS} pixels")
    svg_width, svg_height = svg_size(committed_svg)
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
