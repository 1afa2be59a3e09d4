"""The movies API, served by the monolith and by the extracted movies service alike.

Both run this module on the same database, which is what lets the gateway move
``/api/movies`` traffic between them without a client noticing. That includes the
health routes: whichever backend the gateway picks, ``/api/movies/health`` answers.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from cinema_common import db, jsonbody
from cinema_common.db import one_or_404, transaction
from cinema_common.queryparams import Page

bp = Blueprint("movies", __name__)

_COLUMNS = "id, title, description, genres, rating"
MAX_RATING = 10.0

bp.add_url_rule("/api/movies/health", "health", db.health)
bp.add_url_rule("/api/movies/ready", "ready", db.readiness)


@bp.get("/api/movies")
def list_movies() -> Response:
    """Return a page of movies in id order (``?limit=``, ``?offset=``), or the one named by ``?id=``."""
    movie_id = jsonbody.query_id("id")
    page = Page.from_request()
    with transaction(read_only=True) as conn:
        if movie_id is not None:
            return jsonify(one_or_404(conn, f"SELECT {_COLUMNS} FROM movies WHERE id = %s", movie_id, "movie"))
        rows = conn.execute(f"SELECT {_COLUMNS} FROM movies ORDER BY id LIMIT %s OFFSET %s",
                            (page.fetch, page.offset)).fetchall()
    return page.respond(rows)


@bp.post("/api/movies")
def create_movie() -> tuple[Response, int]:
    """Store a movie and return it with its id."""
    body = jsonbody.json_object()
    title = jsonbody.text(body, "title", max_length=300)
    description = jsonbody.text(body, "description", max_length=5000, allow_empty=True)
    genres = jsonbody.text_list(body, "genres") or []
    rating = jsonbody.number(body, "rating", minimum=0, maximum=MAX_RATING)
    with transaction() as conn:
        movie = conn.execute(
            f"INSERT INTO movies (title, description, genres, rating) VALUES (%s, %s, %s, %s)"
            f" RETURNING {_COLUMNS}",
            (title, description, genres, rating),
        ).fetchone()
    return jsonify(movie), 201
