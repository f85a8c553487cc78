"""The exceptions newswatch raises on purpose.

    NewswatchError
    ├── ConfigError      a config file is wrong: names file, line and key
    ├── StorageError     the database cannot be used (locked, gone, wrong schema)
    └── DeliveryError    an email could not be handed over (carries whether to retry)

Anything else escaping a job is a bug; the daemon logs it with a traceback and
keeps running.
"""

from __future__ import annotations

from pathlib import Path


class NewswatchError(Exception):
    """Base class for errors newswatch raises deliberately."""


class ConfigError(NewswatchError):
    """A config file or environment variable is invalid."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        self.key = key

    def __str__(self) -> str:
        where = str(self.path) if self.path else "config"
        if self.line is not None:
            where += f", line {self.line}"
        if self.key:
            where += f", key {self.key!r}"
        return f"{where}: {self.message}"


class StorageError(NewswatchError):
    """The database could not be opened or migrated."""


class DeliveryError(NewswatchError):
    """Handing an email to the backend failed.

    `retry` says whether trying again later may help (429, 5xx, connection
    errors) or not (400, 401, 403, 413). `status` is the HTTP status, if any.
    """

    def __init__(self, message: str, *, retry: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.status = status
