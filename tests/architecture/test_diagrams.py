"""The architecture diagrams: every source renders, and the committed images are current.

PlantUML's JVM starts slowly, so every diagram is drawn in one run shared by the module.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

DIAGRAMS = Path(__file__).resolve().parents[2] / "docs" / "architecture"


def _load_render() -> ModuleType:
    spec = importlib.util.spec_from_file_location("architecture_render", DIAGRAMS / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


render = _load_render()
SOURCES = render.sources(DIAGRAMS)
_MACRO_CALL = re.compile(r"^\s*(\w+)\((.*)\)\s*(\{)?\s*$")
_ARGUMENT = re.compile(r'\s*("(?:[^"\\]|\\.)*"|[^,]+)\s*(?:,|$)')
_RAW_ARROW = re.compile(r"^\s*\w+\s+[-.<]\S*[-.>]\s+\w+")


@pytest.fixture(scope="module")
def fresh_svgs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every diagram drawn afresh as SVG into a scratch directory, in one PlantUML run."""
    out = tmp_path_factory.mktemp("diagrams")
    try:
        render.render(SOURCES, "svg", out)
    except render.RenderError as error:
        pytest.fail(str(error))
    return {source.stem: (out / f"{source.stem}.svg").read_text(encoding="utf-8") for source in SOURCES}


@pytest.fixture
def copy_of_diagrams(tmp_path: Path) -> Path:
    """The diagram directory copied, sources, shared style and committed images alike."""
    copy = tmp_path / "architecture"
    shutil.copytree(DIAGRAMS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _calls(source: Path) -> list[tuple[str, list[str]]]:
    """Return every macro call in a diagram source as (name, arguments without quotes)."""
    calls = []
    for line in source.read_text(encoding="utf-8").splitlines():
        match = _MACRO_CALL.match(line)
        if match:
            arguments = [arg.strip('"') for arg in _ARGUMENT.findall(match.group(2))]
            calls.append((match.group(1), arguments))
    return calls


def test_the_target_and_the_current_stage_are_drawn() -> None:
    assert {source.stem for source in SOURCES} >= {"target-architecture", "current-stage"}


def test_every_committed_image_has_a_source() -> None:
    images = {image.stem for pattern in ("*.svg", "*.png") for image in DIAGRAMS.glob(pattern)}
    assert images == {source.stem for source in SOURCES}


@pytest.mark.parametrize("source", SOURCES, ids=lambda source: source.stem)
def test_every_source_renders(source: Path, fresh_svgs: dict[str, str]) -> None:
    assert "@startuml" in fresh_svgs[source.stem]
    width, height = render.svg_size(fresh_svgs[source.stem])
    assert max(width, height) < render.MAX_PIXELS


@pytest.mark.parametrize("source", SOURCES, ids=lambda source: source.stem)
def test_committed_images_are_current(source: Path) -> None:
    assert render.compare(source) == []


def test_an_edited_source_makes_both_images_stale(copy_of_diagrams: Path) -> None:
    source = copy_of_diagrams / "target-architecture.puml"
    source.write_text(source.read_text(encoding="utf-8").replace("Routes /api/movies", "Routes /api/films"),
                      encoding="utf-8")
    assert render.compare(source) == [
        "target-architecture.svg is stale: run make diagrams",
        "target-architecture.png is stale: run make diagrams",
    ]
    assert render.compare(copy_of_diagrams / "current-stage.puml") == []


def test_an_edited_shared_style_makes_every_image_stale(copy_of_diagrams: Path) -> None:
    style = copy_of_diagrams / "c4-extras.iuml"
    style.write_text(style.read_text(encoding="utf-8").replace("#D35400", "#E67E22"), encoding="utf-8")
    for source in render.sources(copy_of_diagrams):
        assert render.compare(source) == [f"{source.stem}.svg is stale: run make diagrams",
                                          f"{source.stem}.png is stale: run make diagrams"]


def test_a_missing_image_is_reported(copy_of_diagrams: Path) -> None:
    (copy_of_diagrams / "current-stage.png").unlink()
    missing = ["current-stage.png is missing: run make diagrams"]
    assert render.compare(copy_of_diagrams / "current-stage.puml") == missing


def test_stamps_are_replaced_not_added() -> None:
    png = (DIAGRAMS / "current-stage.png").read_bytes()
    restamped = render.stamp_png(render.stamp_png(png, "0" * 64), "1" * 64)
    assert render.read_png_stamp(restamped) == "1" * 64
    assert len(restamped) == len(png)
    assert render.png_size(restamped) == render.png_size(png)
    svg = (DIAGRAMS / "current-stage.svg").read_text(encoding="utf-8")
    restamped_svg = render.stamp_svg(render.stamp_svg(svg, "0" * 64), "1" * 64)
    assert render.read_svg_stamp(restamped_svg) == "1" * 64
    assert len(restamped_svg) == len(svg)


def test_a_missing_graphviz_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # PlantUML then exits with 0 and draws a picture of the error.
    source = tmp_path / "small.puml"
    source.write_text('@startuml\n!include <C4/C4_Container>\nContainer(a, "A", "Python", "x")\n'
                      'Container(b, "B", "Python", "y")\nRel(a, b, "Calls", "HTTP")\n@enduml\n')
    monkeypatch.setenv("GRAPHVIZ_DOT", str(tmp_path / "no-dot"))
    with pytest.raises(render.RenderError, match="no-dot"):
        render.render([source], "svg", tmp_path / "out")


def test_a_source_that_does_not_render_is_an_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.puml"
    broken.write_text('@startuml\n!include <C4/C4_Container>\nContainer(gateway, "API gateway"\n@enduml\n')
    with pytest.raises(render.RenderError, match="exited with 200"):
        render.render([broken], "svg", tmp_path / "out")


@pytest.mark.parametrize("source", SOURCES, ids=lambda source: source.stem)
def test_every_relationship_has_a_verb_and_a_protocol(source: Path) -> None:
    relationships = [(name, args) for name, args in _calls(source) if name.startswith("Rel")]
    assert relationships
    for name, args in relationships:
        assert len(args) == 4 and all(args), f"{name}({', '.join(args)}) needs from, to, verb and protocol"
    # Raw arrows would bypass the macros: only invisible layout hints are allowed.
    for line in source.read_text(encoding="utf-8").splitlines():
        if _RAW_ARROW.match(line):
            assert "[hidden]" in line, line


@pytest.mark.parametrize("source", SOURCES, ids=lambda source: source.stem)
def test_every_container_names_its_technology(source: Path) -> None:
    containers = [(name, args) for name, args in _calls(source) if name.startswith("Container")]
    assert containers
    for name, args in containers:
        assert len(args) == 4 and all(args), f"{name}({', '.join(args)}) needs alias, name, technology, description"
