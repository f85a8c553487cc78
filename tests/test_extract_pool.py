"""Extraction in a worker process (crawler/extract_pool.py): same result, and a
dead worker costs nothing but a warning. That a worker does not outlive a
SIGKILLed daemon is shown by tests/test_kill.py, which would hang on its pipes."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator

import pytest

from newswatch.crawler import extract_pool
from newswatch.crawler.extract import ExtractOverrides, extract_article

PAGE = """<html lang="nl"><head><title>Drie gemeenten delen hun belastingkantoor</title></head>
<body><article><h1>Drie gemeenten delen hun belastingkantoor</h1>
<p>GOES – De gemeenten Goes, Kapelle en Borsele brengen de heffing van de gemeentelijke
belastingen onder in één kantoor. Dat besloten de drie colleges dinsdag.</p>
<p>Het kantoor moet per 1 januari open zijn. De wethouders verwachten een besparing van
enkele tonnen per jaar, vooral op personeel en systemen.</p></article></body></html>""".encode()
URL = "http://127.0.0.1:8001/nieuws/belastingkantoor"


@pytest.fixture
def one_worker() -> Iterator[None]:
    extract_pool.configure(1)
    yield
    extract_pool.configure(0)


def test_a_worker_extracts_what_the_crawling_process_would(one_worker: None) -> None:
    async def run() -> tuple[object, list[int]]:
        got = await extract_pool.extract(PAGE, URL, ExtractOverrides())
        return got, extract_pool.worker_pids()

    got, workers = asyncio.run(run())
    assert workers
    assert os.getpid() not in workers
    assert got == extract_article(PAGE, URL)
    assert "Kapelle en Borsele" in got.text  # type: ignore[attr-defined]


def test_a_dead_worker_costs_a_warning_and_the_next_page_gets_a_new_one(
    one_worker: None, caplog: pytest.LogCaptureFixture
) -> None:
    async def run() -> tuple[object, list[int], list[int]]:
        await extract_pool.warm()
        first = extract_pool.worker_pids()
        for pid in first:
            os.kill(pid, signal.SIGKILL)  # a crash in a C library, say
        await asyncio.sleep(0.5)
        got = await extract_pool.extract(PAGE, URL, ExtractOverrides())
        await extract_pool.extract(PAGE, URL, ExtractOverrides())
        return got, first, extract_pool.worker_pids()

    got, first, later = asyncio.run(run())
    assert got == extract_article(PAGE, URL)  # extracted in this process instead
    assert "extraction worker died" in caplog.text
    assert later
    assert not set(later) & set(first)
