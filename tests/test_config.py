"""config.toml: defaults, every error naming its key, paths relative to the file."""

from __future__ import annotations

import os
from collections.abc import Callable
from email.utils import getaddresses
from pathlib import Path

import pytest
from click.testing import CliRunner

from publisher.cli import main
from publisher.config import (
    Config,
    DigestConfig,
    TopicRule,
    check_folders,
    integer_settings,
    load_config,
    parse_config,
)
from publisher.config.checks import envelope_part
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
        ('[digest]\nweek_starts = "wed"\n', "digest.week_starts: must be a day of the week"),
        ("[digest]\nmax_stories = 0\n", "digest.max_stories: must be at least 1"),
        ("[digest]\numbrella_share = 0\n", "digest.umbrella_share: must be more than 0"),
        ("[digest]\numbrella_share = 1.5\n", "digest.umbrella_share: must be more than 0"),
        ('[digest]\nother_section = " "\n', "digest.other_section: must not be empty"),
        ('[digest]\nsubject = ""\n', "digest.subject: must not be empty"),
        ('[digest]\nurl = "news.example.org/n/"\n', "digest.url: must be an absolute http(s)"),
        ('[digest]\narchive_url = "/archive/"\n', "digest.archive_url: must be an absolute"),
        ('[digest.smtp]\ntls = "maybe"\n', "digest.smtp.tls: must be one of starttls, ssl, none"),
        ('[digest]\nurl = "news/letters/"\n', "digest.url: must be an absolute http(s) URL"),
        ('[digest]\nurl = "javascript:alert(1)"\n', "digest.url: must be an absolute http(s) URL"),
        ('[digest]\nurl = "https:///letters/"\n', "digest.url: must be an absolute http(s) URL"),
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


@pytest.mark.parametrize("key", ["site.url", "site.link", "digest.unsubscribe_url"])
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("javascript:alert(1)", "must be an absolute http(s) URL with a host"),
        ("data:text/html,<b>hi</b>", "must not contain spaces, control characters"),
        ("data:text/html;base64,aGk=", "must be an absolute http(s) URL with a host"),
        ("ftp://example.org/", "must be an absolute http(s) URL with a host"),
        ("https://", "must be an absolute http(s) URL with a host"),
        ("https:///path", "must be an absolute http(s) URL with a host"),
        ("//example.org/", "must be an absolute http(s) URL with a host"),
        ("https://example.org/a b", "must not contain spaces, control characters"),
        ("https://example.org/\u0085", "must not contain spaces, control characters"),
        ('https://example.org/"onmouseover="x', "must not contain spaces, control characters"),
        ("https://example.org:port/", "is not a valid URL"),
        ("https://[::1/", "is not a valid URL"),
    ],
)
def test_every_url_setting_is_a_public_http_url(key: str, value: str, reason: str):
    """site.url, site.link and digest.unsubscribe_url: absolute http(s) with a host, nothing
    that breaks out of an attribute or a header; the error names the key."""
    table, name = key.split(".")
    with pytest.raises(ConfigError) as caught:
        parse_config({table: {name: value}})
    assert (key, True) == (caught.value.field, caught.value.reason.startswith(reason))


@pytest.mark.parametrize(
    "value",
    ["https://news.example.org/feeds/", "http://localhost:8000/", "https://bücher.example/"],
)
def test_good_urls_are_accepted(value: str):
    """Plain http(s) URLs, a local preview and an internationalised host pass."""
    config = parse_config({"site": {"url": value, "link": value}})
    assert (value, value) == (config.site.url, config.site.home)


@pytest.mark.parametrize("value", ["https://example.org/feeds/?a=1", "https://example.org/#x"])
def test_site_url_takes_no_query_or_fragment(value: str):
    """Feed URLs are site.url plus a file name: a query or fragment would swallow it."""
    with pytest.raises(ConfigError) as caught:
        parse_config({"site": {"url": value}})
    assert "site.url" == caught.value.field


def test_unsubscribe_url_longer_than_900_characters_is_refused():
    """A List-Unsubscribe URL over 900 characters would be folded, which breaks one-click."""
    base = "https://example.org/u?t="
    fits = base + "a" * (900 - len(base))
    assert fits == parse_config({"digest": {"unsubscribe_url": fits}}).digest.unsubscribe_url
    with pytest.raises(ConfigError) as caught:
        parse_config({"digest": {"unsubscribe_url": fits + "a"}})
    assert ("digest.unsubscribe_url", "is 901 characters, more than 900") == (
        caught.value.field,
        caught.value.reason.split(":")[0],
    )


def test_site_url_unset_means_the_local_default():
    """No site.url: the URL is empty (so the build can warn) and feeds use the local one."""
    site = parse_config({}).site
    assert ("", "http://localhost:8000/", "http://localhost:8000/") == (
        site.url,
        site.base_url,
        site.home,
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "[digest.smtp]\ntimeout = nan\n",
            "digest.smtp.timeout: expected a finite number, got nan",
        ),
        (
            "[digest.smtp]\ntimeout = inf\n",
            "digest.smtp.timeout: expected a finite number, got inf",
        ),
        ("[digest.smtp]\ntimeout = 0\n", "digest.smtp.timeout: must be a number of seconds more"),
        ("[digest.smtp]\ntimeout = -5\n", "digest.smtp.timeout: must be a number of seconds more"),
        ("[selection]\nmax_drop = nan\n", "selection.max_drop: expected a finite number, got nan"),
        ("[selection]\nmax_drop = 1.5\n", "selection.max_drop: must be a share from 0 to 1"),
        ("[selection]\nmax_drop = -0.1\n", "selection.max_drop: must be a share from 0 to 1"),
    ],
)
def test_numbers_that_are_not_numbers_are_refused(text: str, reason: str, tmp_path: Path):
    """TOML's nan and inf, a zero or negative timeout, a share outside 0..1: the key named."""
    assert config_error(text, tmp_path).startswith(f"{tmp_path / 'config.toml'}: {reason}")


def test_max_drop_defaults_to_half_and_takes_whole_numbers():
    """selection.max_drop is 0.5 unless set; 0 and 1 are allowed (1 never refuses)."""
    assert 0.5 == parse_config({}).selection.max_drop
    assert 1.0 == parse_config({"selection": {"max_drop": 1}}).selection.max_drop
    assert 0.0 == parse_config({"selection": {"max_drop": 0}}).selection.max_drop


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sender", "News"),
        ("sender", "News <news@exa mple.org>"),
        ("list_address", ""),
        ("list_address", "readers@example.org, everyone@example.org"),
        ("list_address", "lecteurs@exemple.été"),
        ("unsubscribe_mailto", "unsubscribe@example.org?subject=x"),
        ("unsubscribe_mailto", "<unsubscribe@example.org>"),
    ],
)
def test_mail_addresses_are_checked(key: str, value: str):
    """Envelope addresses must be one plain ASCII address; the error names the key."""
    with pytest.raises(ConfigError) as caught:
        parse_config({"digest": {key: value}})
    assert f"digest.{key}" == caught.value.field


def test_display_names_may_be_anything_printable():
    """A sender's display name may hold non-ASCII text; only its address is checked."""
    sender = "Nouvelles Été <news@example.org>"
    assert sender == parse_config({"digest": {"sender": sender}}).digest.sender


@pytest.mark.parametrize(
    "address",
    [
        "news@example.org",
        "first.last@mail.example.org",
        "o'brien+news@example.org",
        "{tag}|x~y=z@sub-domain.example",
        "a!#$%&*/=?^_`-@x1.y2",
    ],
)
def test_a_bare_address_is_its_own_envelope_part(address: str):
    """A bare address is taken as it is, without the email parser, which agrees; one with a
    display name still goes through the parser."""
    assert [("", address)] == getaddresses([address])
    assert address == envelope_part(address)
    assert address == envelope_part(f"News Desk <{address}>")


# Output folders -----------------------------------------------------------------------------


def folders(
    base: Path,
    *,
    out: str = "feeds",
    digest_out: str = "newsletters",
    archive: str = "_newsletters",
    content: str = "news",
    cache_dir: str = "cache",
) -> Config:
    """A config whose folders are the given names under ``base`` (``/`` stays ``/``)."""
    return Config(
        content=str(base / content),
        out=str(base / out),
        cache_dir=str(base / cache_dir),
        digest=DigestConfig(out=str(base / digest_out), archive=str(base / archive)),
    )


def folder_error(config: Config) -> tuple[str, str]:
    """The key and the reason (without the advice) of the folder error for ``config``."""
    with pytest.raises(ConfigError) as caught:
        check_folders(config, "config.toml")
    return caught.value.field, caught.value.reason.split(": give each output")[0]


@pytest.mark.parametrize(
    ("names", "key", "reason"),
    [
        ({"digest_out": "feeds"}, "digest.out", "is the same folder as out ({}/feeds)"),
        ({"out": "site", "digest_out": "site/n"}, "digest.out", "is inside out ({}/site)"),
        ({"out": "site/f", "digest_out": "site"}, "digest.out", "contains out ({}/site/f)"),
        ({"archive": "feeds/_n"}, "digest.archive", "is inside out ({}/feeds)"),
        (
            {"archive": "newsletters"},
            "digest.archive",
            "is the same folder as digest.out ({}/newsletters)",
        ),
        ({"out": "news/feeds"}, "out", "is inside content ({}/news)"),
        ({"out": "."}, "out", "contains content ({}/news)"),
        ({"out": "cache"}, "out", "is the same folder as cache_dir ({}/cache)"),
        ({"cache_dir": "feeds/.cache"}, "out", "contains cache_dir ({}/feeds/.cache)"),
        ({"archive": "cache/pages"}, "digest.archive", "is inside cache_dir ({}/cache)"),
        ({"digest_out": "news"}, "digest.out", "is the same folder as content ({}/news)"),
    ],
)
def test_output_folders_must_not_overlap(
    tmp_path: Path, names: dict[str, str], key: str, reason: str
):
    """No output folder is, contains or lies inside another output, content or cache_dir."""
    real = os.path.realpath(tmp_path)
    assert (key, reason.format(real)) == folder_error(folders(tmp_path, **names))


def test_folders_are_compared_by_real_path(tmp_path: Path):
    """A symlink to the feeds folder is the feeds folder."""
    (tmp_path / "feeds").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "feeds")
    real = os.path.realpath(tmp_path)
    assert ("digest.out", f"is the same folder as out ({real}/feeds)") == folder_error(
        folders(tmp_path, digest_out="alias")
    )


def test_content_and_cache_may_share_a_parent_with_outputs(tmp_path: Path):
    """A Jekyll site holding the articles, the archive and the feeds side by side is fine."""
    config = folders(tmp_path, out="site/feeds", archive="site/_newsletters", content="site/_news")
    check_folders(config, "config.toml")


def test_the_sample_config_folders_are_apart():
    """The repository's own layout passes: content, feeds, newsletters, archive, cache apart."""
    config = load_config(PROJECT / "config.toml")
    check_folders(config, "config.toml")
    assert str(PROJECT / "newsletters") == config.digest.out


def test_folders_are_compared_where_the_config_file_puts_them(tmp_path: Path):
    """Relative folders are resolved against the config file before they are compared."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "config.toml").write_text('out = "x"\n[digest]\nout = "./x/"\n', encoding="utf-8")
    config = load_config(folder / "config.toml")
    real = os.path.realpath(folder)
    assert ("digest.out", f"is the same folder as out ({real}/x)") == folder_error(config)


@pytest.mark.parametrize("key", ["out", "digest_out", "archive"])
@pytest.mark.parametrize("where", ["home", "root"])
def test_output_folder_is_never_home_or_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, where: str
):
    """out, digest.out or digest.archive equal to / or the home folder is refused."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    folder = "home" if where == "home" else "/"
    config = folders(tmp_path, **{key: folder})
    setting = {"out": "out", "digest_out": "digest.out", "archive": "digest.archive"}[key]
    real = os.path.realpath(home) if where == "home" else "/"
    assert (setting, f"must not be the {where} folder ({real})") == folder_error(config)


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


@pytest.mark.parametrize(
    "key",
    [
        "site.url",
        "site.link",
        "digest.unsubscribe_url",
        "digest.url",
        "digest.archive_url",
        "websub.hub",
    ],
)
@pytest.mark.parametrize(
    "value", ["https://admin:hunter2@example.org/feeds/", "https://hunter2@example.org/"]
)
def test_url_settings_with_a_password_are_refused_without_printing_it(key: str, value: str):
    """A URL setting with user info is refused, naming the key; the password is not said."""
    table, name = key.split(".")
    with pytest.raises(ConfigError) as caught:
        parse_config({table: {name: value}})
    assert (key, False) == (caught.value.field, "hunter2" in str(caught.value))
    assert "must not hold a user name or password" in caught.value.reason


def test_build_with_a_password_in_the_hub_url_exits_2_and_writes_nothing(
    tmp_path: Path, write_article: Callable[..., Path]
):
    """`build` with a hub URL holding a password: one line naming websub.hub, exit 2, no feed
    written, the password nowhere in the output."""
    write_article("a.md", title="Alpha", url="https://example.com/a", date="2024-05-01")
    config = tmp_path / "config.toml"
    config.write_text(
        'content = "_news"\nout = "feeds"\ncache_dir = "cache"\n'
        '[websub]\nhub = "http://user:s3cret@hub.example.org/"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["build", "--config", str(config)])
    assert (2, 1, True, False, False) == (
        result.exit_code,
        len(result.stderr.splitlines()),
        ": websub.hub: must not hold a user name or password" in result.stderr,
        "s3cret" in result.output + result.stderr,
        (tmp_path / "feeds").exists(),
    )


def test_site_url_option_with_a_password_is_refused(tmp_path: Path):
    """`--site-url` with user info: one line naming the option, the password not said."""
    result = CliRunner().invoke(
        main, ["build", "--content", str(tmp_path), "--site-url", "https://a:hunter2@x.org/"]
    )
    assert (2, True, False) == (
        result.exit_code,
        result.stderr.startswith("publisher: error: --site-url: must not hold a user name"),
        "hunter2" in result.stderr,
    )


def nested(key: str, value: object) -> dict[str, object]:
    """``{"a": {"b": value}}`` for the dotted key ``a.b``; ``*`` is the topic "Space"."""
    raw: dict[str, object] = {}
    table = raw
    *tables, name = key.replace("*", "Space").split(".")
    for part in tables:
        table = table.setdefault(part, {})
    table[name] = value
    return raw


@pytest.mark.parametrize("key", sorted(integer_settings()))
@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
def test_every_integer_setting_beyond_a_64_bit_integer_is_refused(key: str, value: int):
    """No integer setting may be past what the state store can hold; the key is named."""
    with pytest.raises(ConfigError) as caught:
        parse_config(nested(key, value))
    assert key.replace("*", "Space") == caught.value.field


def test_min_quality_at_the_edge_of_a_64_bit_integer_is_accepted():
    """The largest quality SQLite holds is a valid (if strict) bar, for all and one topic."""
    config = parse_config(
        {"selection": {"min_quality": 2**63 - 1}, "topics": {"Space": {"min_quality": -(2**63)}}}
    )
    assert (2**63 - 1, -(2**63)) == (
        config.selection.min_quality,
        config.topics["Space"].min_quality,
    )


def test_retiring_after_ten_thousand_years_is_refused_in_one_line(tmp_path: Path):
    """retire_after_days past a hundred years reaches before the calendar starts: refused,
    naming the key; a hundred years is accepted."""
    message = config_error("[selection]\nretire_after_days = 3650000\n", tmp_path)
    assert message == (
        f"{tmp_path / 'config.toml'}: selection.retire_after_days: must be at most 36500"
        " (a hundred years, which is as good as never)"
    )
    assert (
        36500
        == parse_config(nested("selection.retire_after_days", 36500)).selection.retire_after_days
    )


@pytest.mark.parametrize(
    "table",
    ["[selection]\nmin_quality = 9223372036854775808", "[selection]\nretire_after_days = 3650000"],
)
def test_build_with_a_setting_past_what_it_can_represent_exits_2(
    tmp_path: Path, write_article: Callable[..., Path], table: str
):
    """`build` refuses such a setting in one line, exit 2, without a traceback."""
    write_article("a.md", title="Alpha", url="https://example.com/a", date="2024-05-01")
    config = tmp_path / "config.toml"
    config.write_text(f'content = "_news"\nout = "feeds"\n{table}\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["build", "--config", str(config)])
    assert (2, 1, False) == (
        result.exit_code,
        len(result.stderr.splitlines()),
        (tmp_path / "feeds").exists(),
    ), result.stderr


def test_topic_order_naming_a_topic_twice_is_refused(tmp_path: Path):
    """A topic listed twice in digest.topic_order would print its section twice: refused."""
    message = config_error('[digest]\ntopic_order = ["Gamma", "Space", "Gamma"]\n', tmp_path)
    assert message == (
        f"{tmp_path / 'config.toml'}: digest.topic_order: lists 'Gamma' more than once:"
        " name each topic once"
    )


def test_topic_order_with_each_topic_once_is_kept_as_given():
    """Distinct topics are accepted in the order given."""
    config = parse_config({"digest": {"topic_order": ["Gamma", "gamma", "Space"]}})
    assert ("Gamma", "gamma", "Space") == config.digest.topic_order
