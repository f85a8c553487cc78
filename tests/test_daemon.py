"""`newswatch run` as a daemon: polls on schedule, sends, stops cleanly on signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import positives, write_config
from daemonproc import wait_for

from newswatch.demo.site import SiteServer


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_daemon_polls_sends_and_stops_on_signal(
    tmp_path: Path, site: SiteServer, sig: signal.Signals
) -> None:
    config = write_config(
        tmp_path / "config",
        db_url=f"sqlite:///{tmp_path / 'nw.db'}",
        sources=[{"name": "Maasstad Lokaal", "kind": "feed", "url": site.feed_url, "every": "1s"}],
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "newswatch", "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        outbox = tmp_path / "outbox"
        assert wait_for(lambda: len(list(outbox.glob("*.eml"))) == len(positives(site)), timeout=60)
        # It keeps polling: the feed is asked again (and answers 304).
        assert wait_for(lambda: site.hits["/feed.xml"] >= 3, timeout=60)
        # robots.txt is remembered across polls: an unchanged feed costs one request.
        assert site.hits["/robots.txt"] == 1
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert f"received {sig.name}" in stderr
    assert "stopped" in stderr
    assert "Traceback" not in stderr
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == len(positives(site))
