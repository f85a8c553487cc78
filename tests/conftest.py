"""Shared fixtures: databases (SQLite always, PostgreSQL when it answers),
a local news site, config folders, and running the real CLI."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from newswatch.demo.site import SiteServer, load_site

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
PG_ADMIN_URL = os.environ.get("NEWSWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
COOPERATION = "intergemeentelijke-samenwerking"


def _pg_reason() -> str | None:
    """None when PostgreSQL answers at 127.0.0.1:5432, else why not."""
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            pass
    except OSError as exc:
        return f"PostgreSQL not reachable at 127.0.0.1:5432 ({exc.strerror or exc})"
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"PostgreSQL refused the connection: {exc}"
    return None


PG_SKIP = _pg_reason()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'newswatch.db'}"
        return
    if PG_SKIP:
        pytest.skip(PG_SKIP)
    import psycopg

    name = f"nw_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    admin = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{admin}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def site() -> Iterator[SiteServer]:
    """The test news site (tests/data/site.yaml) on 127.0.0.1."""
    with SiteServer(load_site(DATA / "site.yaml"), site_name="Maasstad Lokaal") as server:
        yield server


def positives(site: SiteServer) -> set[str]:
    return {a.title for a in site.articles if a.expect == COOPERATION}


def write_config(
    directory: Path,
    *,
    db_url: str,
    sources: list[dict[str, Any]],
    subscribers: list[dict[str, Any]] | None = None,
    email: dict[str, Any] | None = None,
    crawl: dict[str, Any] | None = None,
) -> Path:
    """A complete config folder using the shipped topics.yaml.

    `crawl` entries are merged over the fast test defaults of settings.crawl.
    """
    directory.mkdir(parents=True, exist_ok=True)
    settings = {
        "database_url": db_url,
        "email": {
            "backend": "file",
            "outbox_dir": str(directory.parent / "outbox"),
            **(email or {}),
        },
        "crawl": {"delay": "0s", "timeout": "5s", **(crawl or {})},
    }
    if subscribers is None:
        subscribers = [{"email": "lezer@example.org", "topics": [COOPERATION]}]
    files = {
        "settings": settings,
        "sources": {"sources": sources},
        "subscribers": {"subscribers": subscribers},
    }
    for name, data in files.items():
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    shutil.copy(ROOT / "config" / "topics.yaml", directory / "topics.yaml")
    # topics.yaml may point at example articles next to it ("more like this").
    if (ROOT / "config" / "examples").is_dir():
        shutil.copytree(ROOT / "config" / "examples", directory / "examples", dirs_exist_ok=True)
    return directory


def newswatch(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `newswatch` command line in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSWATCH_", "SENDGRID"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "newswatch", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )
