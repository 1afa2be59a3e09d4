"""Shadow comparison: the canonical JSON diff, and mirroring to a real loopback backend in the background."""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from proxy_service.shadow import MirrorJob, Served, ShadowRunner, should_mirror
from proxy_service.shadow_compare import Undecodable, compare_answers, decode_body
from proxy_service.worker_files import WorkerFiles
from tests.proxy_service.backends import unused_url
from tests.proxy_service.json_backends import JsonBackend

NAMES = ("monolith", "movies-service")
MOVIES = [{"id": 1, "title": "Alien", "genres": ["sf"], "rating": 8.5, "updated_at": "2026-01-01"},
          {"id": 2, "title": "Heat", "genres": ["crime"], "rating": 8.3, "updated_at": "2026-01-02"}]


def body(value: object) -> bytes:
    return json.dumps(value).encode()


def test_equal_documents_match_whatever_the_key_order_or_number_spelling():
    reordered = [{key: movie[key] for key in reversed(list(movie))} for movie in MOVIES]
    reordered[0]["rating"] = 8.50
    assert compare_answers(NAMES, (200, 200), (body(MOVIES), body(reordered))) == []
    assert compare_answers(NAMES, (200, 200), (b'{"id": 1}', b'{"id": 1.0}')) == []


def test_differences_name_the_json_path_and_both_values():
    changed = json.loads(json.dumps(MOVIES))
    changed[1]["title"] = "Heat (1995)"
    changed[0]["genres"].append("horror")
    del changed[0]["rating"]
    assert compare_answers(NAMES, (200, 200), (body(MOVIES), body(changed))) == [
        {"path": "$[0].genres[1]", "absent_in": "monolith", "movies-service": "horror"},
        {"path": "$[0].rating", "monolith": 8.5, "absent_in": "movies-service"},
        {"path": "$[1].title", "monolith": "Heat", "movies-service": "Heat (1995)"},
    ]


def test_ignored_fields_are_left_out_at_any_depth():
    changed = [{**movie, "updated_at": "now"} for movie in MOVIES]
    assert compare_answers(NAMES, (200, 200), (body(MOVIES), body(changed))) != []
    assert compare_answers(NAMES, (200, 200), (body(MOVIES), body(changed)), frozenset({"updated_at"})) == []


def test_status_true_versus_one_and_non_json_bodies_differ():
    assert compare_answers(NAMES, (200, 404), (b"[]", b"[]")) == [
        {"path": "status", "monolith": 200, "movies-service": 404}]
    assert compare_answers(NAMES, (200, 200), (b'{"a": true}', b'{"a": 1}')) == [
        {"path": "$.a", "monolith": True, "movies-service": 1}]
    assert compare_answers(NAMES, (200, 200), (b"<html>", b"oops"))[0]["path"] == "$ (body, not JSON)"
    assert compare_answers(NAMES, (200, 200), (b"same text", b"same text")) == []


def test_long_values_and_long_diffs_are_cut():
    left, right = {"text": "a" * 500}, {"text": "b" * 500}
    [difference] = compare_answers(NAMES, (200, 200), (body(left), body(right)))
    assert len(difference["monolith"]) < 210
    many = compare_answers(NAMES, (200, 200), (body(list(range(100))), body(list(range(1, 101)))))
    assert len(many) == 21
    assert many[-1]["path"] == "..."


def test_bodies_are_decoded_before_comparing():
    assert decode_body(gzip.compress(b"[1]"), "gzip") == b"[1]"
    assert decode_body(b"[1]", None) == b"[1]"
    with pytest.raises(Undecodable):
        decode_body(b"[1]", "br")
    with pytest.raises(Undecodable):
        decode_body(b"not gzip", "gzip")


@pytest.mark.parametrize(("route", "method", "draw", "mirrored"), [
    ("movies", "GET", 0.05, True), ("movies", "GET", 0.2, False), ("movies", "POST", 0.0, False),
    ("movies", "HEAD", 0.0, False), ("legacy", "GET", 0.0, False)])
def test_only_a_share_of_movies_gets_is_mirrored(route, method, draw, mirrored):
    assert should_mirror(route, method, 10, lambda: draw) is mirrored
    assert should_mirror(route, method, 0, lambda: 0.0) is False


@pytest.fixture
def movies_backend() -> Iterator[JsonBackend]:
    backend = JsonBackend(MOVIES)
    yield backend
    backend.stop()


def run(backend_url: str, **options: object) -> tuple[ShadowRunner, Counter]:
    results: Counter = Counter()
    runner = ShadowRunner({"movies-service": backend_url, "monolith": unused_url()},
                          on_result=lambda route, result: results.update([(route, result)]), **options)
    return runner, results


def wait_for(results: Counter, total: int) -> None:
    deadline = time.monotonic() + 5
    while sum(results.values()) < total and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_matching_answer_counts_as_a_match(movies_backend):
    runner, results = run(movies_backend.url)
    served = Served("monolith", 200, gzip.compress(body(MOVIES)), "gzip")
    assert runner.mirror(MirrorJob("movies", "/api/movies?limit=2", {"X-Request-ID": "r1"}, served, "movies-service"))
    wait_for(results, 1)
    runner.close()
    assert results == Counter({("movies", "match"): 1})
    assert movies_backend.requests[0]["target"] == "/api/movies?limit=2"
    assert movies_backend.requests[0]["method"] == "GET"


def test_a_differing_answer_is_kept_with_its_diff(movies_backend, tmp_path):
    movies_backend.document = [MOVIES[0], {**MOVIES[1], "rating": 1.0}]
    runner, results = run(movies_backend.url, files=WorkerFiles(tmp_path))
    runner.mirror(MirrorJob("movies", "/api/movies", {}, Served("monolith", 200, body(MOVIES)), "movies-service"))
    wait_for(results, 1)
    assert results == Counter({("movies", "mismatch"): 1})
    [mismatch] = runner.mismatches()
    runner.close()
    assert mismatch["path"] == "/api/movies"
    assert mismatch["statuses"] == {"monolith": 200, "movies-service": 200}
    assert mismatch["differences"] == [{"path": "$[1].rating", "monolith": 8.3, "movies-service": 1.0}]
    assert list(tmp_path.glob("shadow-mismatches-*.json"))


def test_a_backend_that_refuses_counts_as_an_error():
    runner, results = run(unused_url())
    runner.mirror(MirrorJob("movies", "/api/movies", {}, Served("monolith", 200, b"[]"), "movies-service"))
    wait_for(results, 1)
    runner.close()
    assert results == Counter({("movies", "error"): 1})


def test_past_the_bound_requests_are_skipped_without_waiting(movies_backend):
    movies_backend.delay = 0.5
    runner, results = run(movies_backend.url, max_in_flight=2)
    served = Served("monolith", 200, body(MOVIES))
    started = time.perf_counter()
    sent = [runner.mirror(MirrorJob("movies", "/api/movies", {}, served, "movies-service")) for _ in range(5)]
    elapsed = time.perf_counter() - started
    assert sent == [True, True, False, False, False]
    assert elapsed < 0.2
    assert results[("movies", "skipped")] == 3
    wait_for(results, 5)
    runner.close()
    assert results[("movies", "match")] == 2


def test_a_streamed_answer_is_skipped():
    runner, results = run(unused_url())
    job = MirrorJob("movies", "/api/movies", {}, Served("monolith", 200, None), "movies-service")
    assert runner.mirror(job) is False
    runner.close()
    assert results == Counter({("movies", "skipped"): 1})
