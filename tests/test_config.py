"""Config errors name the file, the line and the key, and stop before the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import newswatch, write_config

from newswatch.errors import ConfigError
from newswatch.settings import load_config, parse_duration, parse_size


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "config",
        db_url=f"sqlite:///{tmp_path / 'nw.db'}",
        sources=[{"name": "Lokaal", "kind": "feed", "url": "https://example.org/feed.xml"}],
    )


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def line_containing(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_default_config_folder_is_valid() -> None:
    config = load_config(Path(__file__).parent.parent / "config", env={})
    assert config.settings.database_url == "sqlite:///var/newswatch.db"
    assert config.settings.email.backend == "file"
    assert config.sources
    assert {s.kind for s in config.sources} <= {
        "feed",
        "listing",
        "sitemap",
        "officielebekendmakingen",
    }
    assert "intergemeentelijke-samenwerking" in {t.id for t in config.topics.topics}


def test_unknown_key_names_file_line_and_key(config: Path) -> None:
    sources = config / "sources.yaml"
    replace(sources, "kind: feed", "kind: feed\n  evry: 5m")
    with pytest.raises(ConfigError) as info:
        load_config(config, env={})
    err = info.value
    assert err.path == sources
    assert err.key == "sources[0].evry"
    assert err.line == line_containing(sources, "evry")
    assert "unknown key" in str(err)


def test_bad_url(config: Path) -> None:
    sources = config / "sources.yaml"
    replace(sources, "https://example.org/feed.xml", "example.org feed")
    with pytest.raises(ConfigError) as info:
        load_config(config, env={})
    assert info.value.key == "sources[0].url"
    assert info.value.line == line_containing(sources, "example.org feed")
    assert str(sources) in str(info.value)


def test_subscriber_with_unknown_topic(config: Path) -> None:
    subscribers = config / "subscribers.yaml"
    replace(subscribers, "- intergemeentelijke-samenwerking", "- gemeentelijke-fietspaden")
    with pytest.raises(ConfigError) as info:
        load_config(config, env={})
    assert info.value.key == "subscribers[0].topics[0]"
    assert info.value.line == line_containing(subscribers, "fietspaden")
    assert "unknown topic 'gemeentelijke-fietspaden'" in str(info.value)


def test_yaml_syntax_error_has_a_line(config: Path) -> None:
    (config / "settings.yaml").write_text("email:\n  backend: [file\n")
    with pytest.raises(ConfigError) as info:
        load_config(config, env={})
    assert info.value.line is not None
    assert "invalid YAML" in str(info.value)


def test_environment_overrides_settings(config: Path, tmp_path: Path) -> None:
    env = {
        "NEWSWATCH_DATABASE_URL": "postgresql://nw@db.example/newswatch",
        "NEWSWATCH_EMAIL_BACKEND": "sendgrid",
        "NEWSWATCH_OUTBOX_DIR": str(tmp_path / "elders"),
        "NEWSWATCH_SENDGRID_HOST": "https://api.eu.sendgrid.com",
        "SENDGRID_API_KEY": "SG.secret-value-1234567890",
    }
    loaded = load_config(config, env=env)
    assert loaded.settings.database_url == env["NEWSWATCH_DATABASE_URL"]
    assert loaded.settings.email.backend == "sendgrid"
    assert loaded.settings.email.outbox_dir == tmp_path / "elders"
    assert str(loaded.settings.email.sendgrid_host).startswith("https://api.eu.sendgrid.com")
    assert "secret-value" not in repr(loaded)


def test_bad_environment_value_says_where_it_came_from(config: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(config, env={"NEWSWATCH_EMAIL_BACKEND": "pigeon"})
    assert info.value.key == "email.backend"
    assert "NEWSWATCH_EMAIL_BACKEND" in str(info.value)


def test_sendgrid_without_key_is_refused(config: Path) -> None:
    with pytest.raises(ConfigError, match="SENDGRID_API_KEY is not set"):
        load_config(config, env={"NEWSWATCH_EMAIL_BACKEND": "sendgrid"})


def test_api_key_in_a_file_is_refused(config: Path) -> None:
    (config / "settings.yaml").write_text("email:\n  sendgrid_api_key: SG.oops\n")
    with pytest.raises(ConfigError, match="SENDGRID_API_KEY only") as info:
        load_config(config, env={})
    assert "SG.oops" not in str(info.value)


def test_cli_exits_2_before_touching_the_database(config: Path, tmp_path: Path) -> None:
    replace(config / "sources.yaml", "https://example.org/feed.xml", "nonsense")
    result = newswatch("--config", str(config), "run", "--once")
    assert result.returncode == 2
    assert "sources.yaml, line" in result.stderr
    assert "sources[0].url" in result.stderr
    assert not (tmp_path / "nw.db").exists()


def test_config_folder_from_environment(config: Path) -> None:
    result = newswatch("check", env={"NEWSWATCH_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
    assert "config OK: 1 source(s)" in result.stdout


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200), (90, 90)])
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-5m", "0s", "15 minutes"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_sizes() -> None:
    assert parse_size("10MB") == 10 * 1024 * 1024
    assert parse_size(512) == 512
    with pytest.raises(ValueError, match="size"):
        parse_size("big")


def test_settings_file_that_is_not_utf8_is_a_config_error(config: Path) -> None:
    (config / "settings.yaml").write_bytes(
        "timezone: Europe/Amsterdam # gemeente Súdwest\n".encode("latin-1")
    )
    with pytest.raises(ConfigError, match="not UTF-8 text") as info:
        load_config(config, env={})
    assert info.value.path == config / "settings.yaml"
