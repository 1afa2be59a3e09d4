"""Copy the single schema file, db/schema.sql, into the Kubernetes manifests and the Helm chart.

Plain manifests cannot read a file from the repository, so ``20-postgres-schema.yaml``
embeds a generated copy; the chart reads ``files/schema.sql``. ``make k8s-schema`` (this
script) rewrites both; ``--check`` only compares and exits 1 naming each stale copy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "db" / "schema.sql"
MANIFEST = ROOT / "kubernetes" / "20-postgres-schema.yaml"
CHART_COPY = ROOT / "helm" / "cinemaabyss" / "files" / "schema.sql"

_HEADER = """\
# GENERATED from db/schema.sql by `make k8s-schema`; do not edit (a test fails when it differs).
# Mounted into /docker-entrypoint-initdb.d, which PostgreSQL runs on an empty volume only.
apiVersion: v1
kind: ConfigMap
metadata:
  name: postgres-schema
  namespace: cinemaabyss
  labels:
    app.kubernetes.io/name: cinemaabyss
    app.kubernetes.io/component: postgres
    app.kubernetes.io/part-of: cinemaabyss
data:
"""


def schema_manifest(schema: str) -> str:
    """Return the ConfigMap manifest that holds ``schema`` as its file ``schema.sql``."""
    body = schema.rstrip("\n")
    trailing = len(schema) - len(body)
    # YAML block chomping: keep exactly as many final newlines as the file has.
    chomp = {0: "-", 1: ""}.get(trailing, "+")
    # An explicit indentation indicator keeps a first line that starts with blanks intact.
    indicator = "2" if body[:1] in (" ", "\t") else ""
    lines = [f"    {line}" if line else "" for line in body.split("\n")]
    return f"{_HEADER}  schema.sql: |{indicator}{chomp}\n" + "\n".join(lines) + "\n" + "\n" * max(trailing - 1, 0)


def expected_copies() -> dict[Path, str]:
    """Return each generated copy's path and the text it must have."""
    schema = SCHEMA.read_text(encoding="utf-8")
    return {MANIFEST: schema_manifest(schema), CHART_COPY: schema}


def stale_copies() -> list[Path]:
    """Return the copies whose text differs from what db/schema.sql gives."""
    return [path for path, text in expected_copies().items()
            if not path.exists() or path.read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    """Rewrite the copies, or with ``--check`` report the stale ones; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if a copy is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_copies()
        for path in stale:
            print(f"{path.relative_to(ROOT)} differs from db/schema.sql: run `make k8s-schema`", file=sys.stderr)
        return 1 if stale else 0
    for path, text in expected_copies().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
