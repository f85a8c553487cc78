"""Load a YAML file into a pydantic model, with errors that name file, line and key.

Operators edit these files by hand; "validation error at sources.2.url" is not
enough for them, so every node's line is remembered while parsing and a
pydantic error location is mapped back to the line it came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from newswatch.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records the line of every mapping key and sequence item."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    lines = {}
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in lines:
            raise ConfigError(
                f"duplicate key {key!r}", line=key_node.start_mark.line + 1, key=str(key)
            )
        lines[key] = key_node.start_mark.line + 1
    return _LineDict(mapping, lines, node.start_mark.line + 1)


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> list[Any]:
    items = loader.construct_sequence(node, deep=True)
    return _LineList(items, [child.start_mark.line + 1 for child in node.value])


class _LineDict(dict):  # type: ignore[type-arg]
    def __init__(self, data: dict[str, Any], lines: dict[str, int], line: int) -> None:
        super().__init__(data)
        self.lines = lines
        self.line = line


class _LineList(list):  # type: ignore[type-arg]
    def __init__(self, data: list[Any], lines: list[int]) -> None:
        super().__init__(data)
        self.lines = lines


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def parse_yaml(text: str, path: Path) -> Any:
    """Parse YAML text; syntax errors become a ConfigError with file and line."""
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except ConfigError as exc:
        exc.path = path
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"invalid YAML: {exc.problem}", path=path, line=line) from exc


def line_of(data: Any, loc: tuple[int | str, ...]) -> int | None:
    """The line of the deepest node on `loc` that we know a line for."""
    line = getattr(data, "line", None)
    node = data
    for part in loc:
        if isinstance(node, _LineDict) and part in node:
            line = node.lines.get(str(part), line)
            node = node[part]
        elif isinstance(node, _LineList) and isinstance(part, int) and part < len(node):
            line = node.lines[part]
            node = node[part]
        else:
            break
    return line


def dotted(loc: tuple[int | str, ...]) -> str:
    """`('sources', 2, 'url')` -> `sources[2].url`, the way operators read it."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate(data: Any, model: type[M], path: Path) -> M:
    """Validate parsed YAML against `model`; the first error names file, line, key."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        err = exc.errors()[0]
        # pydantic adds the validator name to union/tagged locations; drop what
        # is not a real key so the location matches the operator's file.
        loc = tuple(
            p for p in err["loc"] if isinstance(p, int) or not str(p).startswith("function-")
        )
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = _friendly(err) + more
        raise ConfigError(message, path=path, line=line_of(data, loc), key=dotted(loc)) from None


def _friendly(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if err["type"] == "missing":
        return "required key is missing"
    msg: str = err["msg"]
    return msg.removeprefix("Value error, ")


def read_text(path: Path) -> str:
    """A config file's text; a missing or non-UTF-8 file is a ConfigError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", path=path) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason})", path=path) from None


def load_model(path: Path, model: type[M]) -> M:
    """Read, parse and validate one config file."""
    return validate(parse_yaml(read_text(path), path), model, path)
