"""The `helm test` check (templates/tests/test-gateway.yaml), run with `python -c` in the gateway's image.

The gateway answers /health, and /api/movies comes back as a non-empty JSON list (the seeded
movies, read from PostgreSQL by whichever backend the gateway chose). Exits non-zero otherwise.
"""

import json
import os
import urllib.request

gateway = os.environ["GATEWAY_URL"].rstrip("/")
# urlopen raises HTTPError for any status of 400 or more, which fails the test.
with urllib.request.urlopen(gateway + "/health", timeout=10) as response:  # noqa: S310 - the release's own Service
    print("GET /health:", response.status, response.read(200).decode())
with urllib.request.urlopen(gateway + "/api/movies", timeout=10) as response:  # noqa: S310
    movies = json.load(response)
    upstream = response.headers.get("X-Upstream")
if not isinstance(movies, list) or not movies:
    raise SystemExit(f"GET /api/movies: expected a non-empty list of movies, got {movies!r:.200}")
print(f"GET /api/movies: {len(movies)} movies, served by {upstream}")
