"""robots.txt kept in the database between processes (scheduler/robots_memory.py).

The end-to-end case, two `run --once` processes asking robots.txt once, is in
tests/test_e2e.py; these pin the ages and the failure handling.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from newswatch.crawler import robots
from newswatch.models import RobotsTxt
from newswatch.scheduler import robots_memory
from newswatch.storage import open_database

HOUR = 3600.0


@pytest.fixture(autouse=True)
def empty_memory() -> Iterator[None]:
    robots.forget_all()
    yield
    robots.forget_all()


def test_saved_files_come_back_in_a_new_process(db_url: str) -> None:
    db = open_database(db_url)
    try:
        now = time.time()
        robots._FETCHED.update(
            {"a.example": (b"User-agent: *\nDisallow: /x/\n", now), "b.example": (None, now)}
        )
        assert robots_memory.save(db) == 2
        assert robots_memory.save(db) == 0  # nothing new fetched since
        robots.forget_all()  # what a new process starts with
        assert robots_memory.load(db) == 2
        assert robots._SEEDS["a.example"][0] == b"User-agent: *\nDisallow: /x/\n"
        assert robots._SEEDS["b.example"][0] is None  # the fetch failed: asked again within an hour
    finally:
        db.dispose()


def test_a_day_for_a_file_an_hour_for_a_failed_fetch() -> None:
    now = time.time()
    fresh = robots.seed(
        [
            ("fresh.example", b"User-agent: *\n", now - 23 * HOUR),
            ("stale.example", b"User-agent: *\n", now - 25 * HOUR),
            ("failed-recently.example", None, now - 0.5 * HOUR),
            ("failed-long-ago.example", None, now - 2 * HOUR),
        ]
    )
    assert fresh == 2
    assert set(robots._SEEDS) == {"fresh.example", "failed-recently.example"}


def test_a_failed_save_is_logged_and_the_crawl_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = open_database(f"sqlite:///{tmp_path}/nw.db")
    try:
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE robots_txt"))  # a database that cannot take it
        robots._FETCHED["a.example"] = (b"User-agent: *\n", time.time())
        assert robots_memory.save(db) == 0
        assert "robots.txt of a.example not saved" in caplog.text
        assert robots_memory.load(db) == 0
        assert "robots.txt files of earlier runs not read" in caplog.text
    finally:
        db.dispose()


def test_saving_again_replaces_the_earlier_file(db_url: str) -> None:
    db = open_database(db_url)
    try:
        robots._FETCHED["a.example"] = (b"old", time.time() - HOUR)
        robots_memory.save(db)
        robots._FETCHED["a.example"] = (b"new", time.time())
        robots_memory.save(db)
        with db.session() as session:
            rows = session.query(RobotsTxt).all()
        assert [(r.netloc, r.body) for r in rows] == [("a.example", b"new")]
        assert rows[0].fetched_at > datetime.now(UTC) - timedelta(minutes=1)
    finally:
        db.dispose()
