"""config.toml: defaults, every error naming its key, paths relative to the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher.config import Config, TopicRule, load_config, parse_config
from publisher.errors import ConfigError

PROJECT = Path(__file__).resolve().parents[1]


def config_error(text: str, tmp_path: Path) -> str:
    """The one-line error for a config file with ``text``."""
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    return str(raised.value)


def test_defaults_without_a_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """No --config and no ./config.toml: the documented defaults."""
    monkeypatch.chdir(tmp_path)
    config = load_config(None)
    assert Config() == config
    assert (50, False, 50) == (
        config.selection.min_quality,
        config.selection.include_unrated,
        config.selection.limit,
    )
    assert ("content/_news", "feeds") == (config.content, config.out)


def test_config_toml_in_working_directory_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Without --config, ./config.toml is read."""
    (tmp_path / "config.toml").write_text('[site]\ntitle = "Here"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert "Here" == load_config(None).site.title


def test_sample_config_loads():
    """The project's own config.toml is valid and says what it means."""
    config = load_config(PROJECT / "config.toml")
    assert "https://news.example.org/feeds/" == config.site.url
    assert TopicRule(min_quality=55) == config.topics["Climate Science"]
    assert str(PROJECT / "content/_news") == config.content


def test_relative_paths_resolve_against_config_file(tmp_path: Path):
    """content and out are relative to the config file's folder, not the working directory."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "config.toml").write_text('content = "news"\nout = "public/feeds"\n')
    config = load_config(folder / "config.toml")
    assert (str(folder / "news"), str(folder / "public/feeds")) == (config.content, config.out)


def test_absolute_paths_stay_absolute(tmp_path: Path):
    """An absolute path in the config is used as it is."""
    (tmp_path / "config.toml").write_text('out = "/srv/feeds"\n')
    assert "/srv/feeds" == load_config(tmp_path / "config.toml").out


def test_unknown_top_level_key_is_named(tmp_path: Path):
    """A typo at the top level names the key."""
    assert f"{tmp_path / 'config.toml'}: contnet: unknown key" == config_error(
        'contnet = "x"\n', tmp_path
    )


def test_unknown_nested_key_is_named_with_its_table(tmp_path: Path):
    """A typo inside a table names the dotted key."""
    message = config_error("[selection]\nmin_qualty = 3\n", tmp_path)
    assert message.endswith(": selection.min_qualty: unknown key")


def test_unknown_key_in_topic_rule_is_named(tmp_path: Path):
    """A typo in a per-topic override names the topic too."""
    message = config_error('[topics."Climate Science"]\nminquality = 3\n', tmp_path)
    assert message.endswith(": topics.Climate Science.minquality: unknown key")


@pytest.mark.parametrize(
    ("text", "ending"),
    [
        (
            '[selection]\nmin_quality = "50"\n',
            "selection.min_quality: expected an integer, got '50'",
        ),
        ("[selection]\ninclude_unrated = 1\n", "selection.include_unrated: expected true or false"),
        ("[selection]\nlimit = true\n", "selection.limit: expected an integer, got True"),
        ("[site]\ntitle = 3\n", "site.title: expected a string, got 3"),
        ("site = 3\n", "site: expected a table"),
        ("[digest]\ntopic_order = [1, 2]\n", "digest.topic_order: expected a list of strings"),
        ('[topics]\nSpace = "high"\n', "topics.Space: expected a table"),
    ],
)
def test_wrong_type_names_the_key(text: str, ending: str, tmp_path: Path):
    """A value of the wrong type names the key and what was expected."""
    message = config_error(text, tmp_path)
    assert ending in message
    assert message.startswith(str(tmp_path / "config.toml"))
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "ending"),
    [
        ('[site]\nurl = "example.org/feeds"\n', "site.url: must be an absolute http(s) URL"),
        ("[selection]\nlimit = 0\n", "selection.limit: must be at least 1"),
        ("[topics.Space]\nlimit = 0\n", "topics.Space.limit: must be at least 1"),
        ('[digest]\ntimezone = "Mars/Olympus"\n', "digest.timezone: unknown time zone"),
        ('[digest.smtp]\ntls = "maybe"\n', "digest.smtp.tls: must be one of starttls, ssl, none"),
    ],
)
def test_bad_value_names_the_key(text: str, ending: str, tmp_path: Path):
    """A value of the right type but out of range names the key."""
    assert ending in config_error(text, tmp_path)


def test_float_accepts_integer():
    """A whole number where a number is expected is fine."""
    assert 5.0 == parse_config({"digest": {"smtp": {"timeout": 5}}}).digest.smtp.timeout


def test_invalid_toml_is_one_line(tmp_path: Path):
    """A TOML syntax error names the file and is one line."""
    message = config_error("[site\n", tmp_path)
    assert message.startswith(f"{tmp_path / 'config.toml'}: invalid TOML: ")
    assert "\n" not in message


def test_missing_config_file(tmp_path: Path):
    """--config pointing nowhere names the file."""
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "nope.toml")
    assert f"{tmp_path / 'nope.toml'}: file not found" == str(raised.value)


def test_config_not_utf8(tmp_path: Path):
    """A config file in another encoding is an error, not a crash."""
    (tmp_path / "config.toml").write_bytes(b'[site]\ntitle = "caf\xe9"\n')
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "config.toml")
    assert str(raised.value).startswith(f"{tmp_path / 'config.toml'}: cannot read: ")


def test_overrides_beat_config_and_none_means_not_given():
    """with_overrides replaces what is given and keeps the rest."""
    config = parse_config({"content": "a", "out": "b"})
    overridden = config.with_overrides(content="c", out=None)
    assert ("c", "b") == (overridden.content, overridden.out)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"site": {"title": " "}}, "site.title"),
        ({"site": {"title": "News\nBcc: everyone@example.org"}}, "site.title"),
        ({"digest": {"list_id": "a\rb"}}, "digest.list_id"),
        ({"digest": {"timezone": "America"}}, "digest.timezone"),
        ({"digest": {"smtp": {"port": 70000}}}, "digest.smtp.port"),
        ({"digest": {"smtp": {"timeout": 0}}}, "digest.smtp.timeout"),
        ({"out": "public", "digest": {"out": "./public"}}, "digest.out"),
    ],
)
def test_values_that_cannot_work_are_config_errors(raw: dict[str, object], key: str):
    """Empty feed titles, header injection, unusable zones, ports, timeouts, shared folders."""
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert key == caught.value.field


@pytest.mark.parametrize(
    ("text", "ending"),
    [
        ("[archive]\npage_size = 0\n", ": archive.page_size: must be at least 1"),
        ('[archive]\npage_size = "100"\n', ": archive.page_size: expected an integer, got '100'"),
        ("[archive]\nenabled = 1\n", ": archive.enabled: expected true or false, got 1"),
        ("[archive]\npages = 3\n", ": archive.pages: unknown key"),
    ],
)
def test_archive_settings_name_the_key(text: str, ending: str, tmp_path: Path):
    """A bad [archive] setting is one line naming the key."""
    message = config_error(text, tmp_path)
    assert message.endswith(ending), message


def test_archive_settings(tmp_path: Path):
    """Archives are on with pages of 100 unless config.toml says otherwise."""
    assert (True, 100) == (parse_config({}).archive.enabled, parse_config({}).archive.page_size)
    (tmp_path / "config.toml").write_text("[archive]\nenabled = false\npage_size = 25\n")
    loaded = load_config(tmp_path / "config.toml")
    assert (False, 25) == (loaded.archive.enabled, loaded.archive.page_size)


def test_retire_after_days(tmp_path: Path):
    """A gone topic's feed waits 30 days by default; the key takes 0 or more, named if not."""
    assert 30 == parse_config({}).selection.retire_after_days
    (tmp_path / "config.toml").write_text("[selection]\nretire_after_days = 0\n")
    assert 0 == load_config(tmp_path / "config.toml").selection.retire_after_days
    message = config_error("[selection]\nretire_after_days = -1\n", tmp_path)
    assert message.endswith(": selection.retire_after_days: must be 0 or more"), message
