"""Config reload without a restart: on SIGHUP, or when a config file changes.

The config folder is polled every few seconds (modification times and sizes,
no extra dependency). A new config is loaded and validated in full before
anything changes; if it is invalid, the precise ConfigError (file, line, key)
is logged and the running config stays in force. A valid one is applied:

- sources added, removed or changed get their jobs scheduled, removed or
  rescheduled (a changed source polls at once with its new settings);
- topics rebuild the classifier; subscribers update who gets alerts;
- the sender is rebuilt (addresses, names, email settings);
- `email.send_every` reschedules the sender, `log_level` applies at once.

A few settings are bound at start (the database, the HTTP listen address,
the crawl settings baked into the Scrapy runner, the time zone of the
scheduler); a change to those is logged as needing a restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newswatch.errors import ConfigError
from newswatch.relevance import Classifier
from newswatch.settings import Config, Source, load_config

log = logging.getLogger(__name__)

POLL_EVERY = 2.0  # seconds between looks at the config folder
SETTLE = 0.5  # a file still being written keeps changing; wait until it holds still
# Settings read once at start; a change is reported, not applied.
RESTART_ONLY = (
    "database_url",
    "database_busy_timeout",
    "timezone",
    "http.listen",
    "crawl",
    "retention.every",  # the housekeeping job's interval
)

Snapshot = dict[str, tuple[int, int]]


def snapshot(directory: Path) -> Snapshot:
    """(mtime_ns, size) of every file in the config folder, by relative path."""
    found: Snapshot = {}
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or name.endswith(("~", ".swp", ".tmp")):
                continue  # editors' swap and backup files are not config
            path = Path(root) / name
            try:
                stat = path.stat()
            except OSError:
                continue  # removed between listing and stat: the next poll sees it
            found[str(path.relative_to(directory))] = (stat.st_mtime_ns, stat.st_size)
    return found


def changed_files(before: Snapshot, after: Snapshot) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


# --- scheduling, shared with the daemon's start ------------------------------------------


def source_job_id(name: str) -> str:
    return f"source:{name}"


def schedule_source(scheduler: Any, service: Any, source: Source, now: datetime) -> None:
    """(Re)schedule one source's poll job; it runs at `now`, then every `source.every`."""
    scheduler.add_job(
        service._tracked,
        "interval",
        seconds=source.every,
        next_run_time=now,
        args=[service._collect_then_send, source],
        id=source_job_id(source.name),
        max_instances=1,
        # A late or missed run (suspend, clock jump) runs once, not once per
        # missed interval.
        coalesce=True,
        misfire_grace_time=None,
        replace_existing=True,
    )


def schedule_sender(scheduler: Any, service: Any, every: float, now: datetime) -> None:
    scheduler.add_job(
        service._tracked,
        "interval",
        seconds=every,
        next_run_time=now,
        args=[service._send_job],
        id="sender",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        replace_existing=True,
    )


# --- applying a new config -----------------------------------------------------------------


@dataclass
class ReloadSummary:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    topics: int = 0
    subscribers: int = 0
    needs_restart: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [
            f"sources +{len(self.added)} -{len(self.removed)} ~{len(self.changed)}",
            f"{self.topics} topic(s)",
            f"{self.subscribers} subscriber(s)",
        ]
        for label, names in (("added", self.added), ("removed", self.removed)):
            if names:
                parts.append(f"{label}: {', '.join(names)}")
        if self.changed:
            parts.append(f"changed: {', '.join(self.changed)}")
        return "; ".join(parts)


def apply_config(
    service: Any,
    scheduler: Any,
    new: Config,
    classifier: Classifier,
    make_sender: Callable[[Config], Any],
    now: datetime | None = None,
) -> ReloadSummary:
    """Swap `new` into the running service; everything here is quick and cannot fail halfway
    on bad input, because `new` was validated (and its classifier built) beforehand."""
    now = now or datetime.now(UTC)
    old: Config = service.config
    before = {s.name: s for s in old.sources}
    after = {s.name: s for s in new.sources}
    summary = ReloadSummary(
        added=[n for n in after if n not in before],
        removed=[n for n in before if n not in after],
        changed=[n for n in after if n in before and after[n] != before[n]],
        topics=len(new.topics.topics),
        subscribers=len(new.subscribers),
        needs_restart=_restart_only_changes(old, new),
    )
    # The new config first: jobs that start from here on read it.
    service.config = new
    service.ingestor.classifier = classifier
    service.ingestor.subscribers = new.subscribers
    service.sender = make_sender(new)
    for name in summary.removed:
        if scheduler.get_job(source_job_id(name)) is not None:
            scheduler.remove_job(source_job_id(name))
    for name in summary.added + summary.changed:
        schedule_source(scheduler, service, after[name], now)
    if new.settings.email.send_every != old.settings.email.send_every:
        schedule_sender(scheduler, service, new.settings.email.send_every, now)
    if new.settings.log_level != old.settings.log_level:
        logging.getLogger().setLevel(new.settings.log_level)
    for key in summary.needs_restart:
        log.warning("config reload: %s changed; it takes effect after a restart", key)
    return summary


def _restart_only_changes(old: Config, new: Config) -> list[str]:
    changed = []
    for dotted in RESTART_ONLY:
        a: Any = old.settings
        b: Any = new.settings
        for part in dotted.split("."):
            a, b = getattr(a, part), getattr(b, part)
        if a != b:
            changed.append(dotted)
    return changed


def _load(directory: Path) -> tuple[Config, Classifier]:
    # Both may take a moment (topics compile into matchers): done in a thread.
    config = load_config(directory)
    return config, config.classifier()


# --- the reloader ----------------------------------------------------------------------------


class Reloader:
    """Watches the config folder and SIGHUP; applies valid new configs to `service`."""

    def __init__(
        self,
        service: Any,
        scheduler: Any,
        make_sender: Callable[[Config], Any],
        *,
        poll_every: float = POLL_EVERY,
    ) -> None:
        self.service = service
        self.scheduler = scheduler
        self.make_sender = make_sender
        self.poll_every = poll_every
        self.directory: Path = service.config.directory
        self._seen = snapshot(self.directory)
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._signal_installed = False

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, self.request, "SIGHUP")
            self._signal_installed = True
        except (NotImplementedError, RuntimeError, ValueError):
            # Not the main thread, or a platform without SIGHUP: polling still works.
            log.debug("SIGHUP handler not installed; config changes are still noticed")
        if self.poll_every > 0:
            self._spawn(self._watch())

    async def stop(self) -> None:
        if self._signal_installed:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._signal_installed = False
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)

    def request(self, reason: str) -> None:
        """Reload soon (from a signal handler: must not block)."""
        log.info("received %s: reloading the config", reason)
        self._spawn(self.reload(reason))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_every)
            try:
                current = await self._settled_snapshot()
            except OSError as exc:
                log.warning("cannot read config folder %s: %s", self.directory, exc)
                continue
            if current != self._seen:
                files = changed_files(self._seen, current)
                await self.reload(f"changed: {', '.join(files)}")

    async def _settled_snapshot(self) -> Snapshot:
        current = snapshot(self.directory)
        while current != self._seen:
            await asyncio.sleep(SETTLE)
            again = snapshot(self.directory)
            if again == current:
                break
            current = again
        return current

    async def reload(self, reason: str) -> bool:
        """Load, validate and apply the config folder; False (old config kept) if invalid."""
        async with self._lock:  # SIGHUP and a file change at once: one after the other
            # What is read now is what gets applied: later edits trigger another reload.
            self._seen = snapshot(self.directory)
            try:
                new, classifier = await asyncio.to_thread(_load, self.directory)
            except ConfigError as exc:
                log.error(
                    "config reload refused (%s): %s; the running config stays in force",
                    reason,
                    exc,
                )
                return False
            except Exception:
                # A bug in loading must not take the daemon down with the old config intact.
                log.exception(
                    "config reload failed (%s); the running config stays in force", reason
                )
                return False
            summary = apply_config(self.service, self.scheduler, new, classifier, self.make_sender)
            log.info("config reloaded (%s): %s", reason, summary)
            return True
