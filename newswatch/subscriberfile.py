"""Edit subscribers.yaml from the command line without losing the operator's comments.

The file is the operator's: it carries comments, their order, their quoting.
Adding goes through ruamel.yaml's round-trip mode, which keeps all of that.
Removing cuts the entry's own lines out of the text: ruamel hangs a comment
written above an entry onto the entry before it, so deleting through ruamel
would take the next entry's comment along. Either way the result is parsed
and validated like any config load before it replaces the file, atomically.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from newswatch.errors import ConfigError
from newswatch.settings import Subscriber, SubscribersFile, validate_email
from newswatch.yamlfile import parse_yaml, validate

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
NEW_FILE_HEADER = "# Who gets alerts; see README, subscribers.yaml.\n"


class SubscriberEditError(ValueError):
    """A refused edit; the message is meant for the operator."""


def new_entry(
    email: str,
    topics: list[str],
    *,
    known_topics: set[str],
    name: str | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A validated subscribers.yaml entry; raises SubscriberEditError saying what is wrong."""
    try:
        email = validate_email(email)
    except ValueError as exc:
        raise SubscriberEditError(str(exc)) from None
    if not topics:
        raise SubscriberEditError("give at least one --topic")
    for topic in topics:
        if topic not in known_topics:
            known = ", ".join(sorted(known_topics)) or "none"
            raise SubscriberEditError(f"unknown topic {topic!r} (topics.yaml defines: {known})")
    # The name ends up in the To: header; a line break there would let it add headers.
    if name is not None and _CONTROL.search(name):
        raise SubscriberEditError("the name must not contain line breaks or control characters")
    entry: dict[str, Any] = {"email": email}
    if name:
        entry["name"] = name
    entry["topics"] = list(dict.fromkeys(topics))
    entry.update({k: v for k, v in (extra or {}).items() if v is not None})
    try:
        Subscriber.model_validate(entry)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        raise SubscriberEditError(f"{where}: {message}") from None
    return entry


def add_subscriber(path: Path, entry: dict[str, Any], known_topics: set[str]) -> None:
    """Append `entry` to the file (created if missing); refuses an address already listed."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    yaml, data = _load_round_trip(text, path)
    # A missing file, or one holding only comments: those comments (or a
    # short header) go first, as text, since there is no node to hang them on.
    header = ""
    if data is None:
        data = CommentedMap()
        header = text if text.strip() else NEW_FILE_HEADER
        header += "" if header.endswith("\n") else "\n"
    if not isinstance(data, CommentedMap):
        raise SubscriberEditError(f"{path}: expected a mapping with a 'subscribers' list")
    entries = data.get("subscribers")
    if entries is None:
        entries = data["subscribers"] = CommentedSeq()
    if not isinstance(entries, CommentedSeq):
        raise SubscriberEditError(f"{path}: 'subscribers' is not a list")
    index = _index_of(entries, entry["email"])
    if index is not None:
        raise SubscriberEditError(f"{entries[index]['email']} is already listed in {path}")
    # An empty `subscribers: []` is flow style; entries read better as a block.
    entries.fa.set_block_style()
    entries.append(_commented(entry))
    out = io.StringIO(header)
    out.seek(0, io.SEEK_END)
    yaml.dump(data, out)
    _write_checked(path, out.getvalue(), known_topics)


def remove_subscriber(path: Path, email: str, known_topics: set[str]) -> str:
    """Cut the entry for `email` out of the file; returns the address as it was listed."""
    if not path.exists():
        raise SubscriberEditError(f"{path} does not exist")
    text = path.read_text(encoding="utf-8")
    _yaml, data = _load_round_trip(text, path)
    entries = data.get("subscribers") if isinstance(data, CommentedMap) else None
    index = _index_of(entries, email) if isinstance(entries, CommentedSeq) else None
    if index is None:
        raise SubscriberEditError(f"{email} is not listed in {path}")
    assert isinstance(entries, CommentedSeq)
    listed = str(entries[index]["email"])
    if entries.fa.flow_style():
        # `subscribers: [{...}]` has no lines of its own to cut; rewrite it.
        del entries[index]
        out = io.StringIO()
        _yaml.dump(data, out)
        new_text = out.getvalue()
    else:
        new_text = _cut_entry(text, entries, index)
        if len(entries) == 1:
            # `subscribers:` with nothing under it reads as null, not as a list.
            new_text = _empty_list_at(new_text, data.lc.key("subscribers")[0])
    _write_checked(path, new_text, known_topics)
    return listed


def _load_round_trip(text: str, path: Path) -> tuple[YAML, Any]:
    yaml = YAML()  # round-trip: keeps comments, order and quoting
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the operator's long lines
    try:
        if text.strip():
            _data, indent, block_seq_indent = load_yaml_guess_indent(text)
            yaml.indent(mapping=indent or 2, sequence=indent or 4, offset=block_seq_indent or 2)
        else:
            yaml.indent(mapping=2, sequence=4, offset=2)
        return yaml, yaml.load(text)
    except YAMLError as exc:
        raise SubscriberEditError(f"{path} is not valid YAML: {exc}") from None


def _index_of(entries: Any, email: str) -> int | None:
    wanted = email.strip().lower()
    for i, item in enumerate(entries or []):
        if isinstance(item, dict) and str(item.get("email", "")).strip().lower() == wanted:
            return i
    return None


def _commented(entry: dict[str, Any]) -> CommentedMap:
    item = CommentedMap()
    for key, value in entry.items():
        if isinstance(value, list):
            seq = CommentedSeq(value)
            seq.fa.set_flow_style()  # `topics: [a, b]`, as in the shipped example
            value = seq
        item[key] = value
    return item


def _cut_entry(text: str, entries: CommentedSeq, index: int) -> str:
    """Remove the lines from the entry's dash to its last line of content.

    Comment lines after it stay: in a hand-written file they introduce the
    next entry, or close the file.
    """
    lines = text.splitlines(keepends=True)
    start = _dash_line(lines, entries.lc.item(index)[0])
    end = entries.lc.item(index + 1)[0] if index + 1 < len(entries) else len(lines)
    end = _dash_line(lines, end) if index + 1 < len(entries) else end
    last = start
    for number in range(start, end):
        stripped = lines[number].strip()
        if stripped and not stripped.startswith("#"):
            last = number
    return "".join(lines[:start] + lines[last + 1 :])


def _empty_list_at(text: str, line: int) -> str:
    lines = text.splitlines(keepends=True)
    lines[line] = lines[line].replace("subscribers:", "subscribers: []", 1)
    return "".join(lines)


def _dash_line(lines: list[str], line: int) -> int:
    """The line of the `-` that opens the sequence item whose content starts on `line`."""
    while line > 0 and not lines[line].lstrip().startswith("-"):
        line -= 1
    return line


def _write_checked(path: Path, text: str, known_topics: set[str]) -> None:
    """Validate the new text as a config load would, then replace the file atomically."""
    try:
        data = parse_yaml(text, path)
        entries = validate(data, SubscribersFile, path).subscribers
    except ConfigError as exc:
        raise SubscriberEditError(
            f"the edited file would not load ({exc}); nothing changed"
        ) from None
    for subscriber in entries:
        unknown = [t for t in subscriber.topics if t not in known_topics]
        if unknown:
            raise SubscriberEditError(
                f"{subscriber.email} has unknown topic {unknown[0]!r}; nothing changed"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=".subscribers-", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def format_table(listed: list[Subscriber], states: dict[str, Any], zone: Any) -> str:
    """`subscribers list`: each address with its state, delivery and topics.

    `states` maps lower-cased addresses to their `Subscription` rows. Addresses
    with a stored state but no longer in the file are shown too: their
    suppression still holds should they be added again.
    """
    rows = [("EMAIL", "STATE", "DELIVERY", "TOPICS", "NOTE")]
    for subscriber in listed:
        row = states.get(subscriber.email.lower())
        state, note = _state_and_note(row, zone)
        rows.append(
            (subscriber.email, state, subscriber.delivery, ", ".join(subscriber.topics), note)
        )
    in_file = {s.email.lower() for s in listed}
    for email, row in sorted(states.items()):
        if email not in in_file and str(row.state) != "active":
            state, note = _state_and_note(row, zone)
            rows.append((email, state, "-", "-", f"not in subscribers.yaml; {note}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    ).rstrip()


def _state_and_note(row: Any, zone: Any) -> tuple[str, str]:
    if row is None:
        return "active", ""
    when = row.changed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    note = f"{row.changed_by or '?'} {when}"
    if row.reason:
        note += f" ({row.reason})"
    return str(row.state), note
