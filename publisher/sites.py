"""A family of sites in one config file: ``[sites.NAME]`` tables over shared defaults.

Every key outside ``[sites]`` is a default for every site; a site's own table replaces it
key by key (tables are merged, not swapped whole). Each site keeps its own folders, lock and
state store, so one site's build never touches another's files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from itertools import combinations
from pathlib import Path, PurePosixPath
from typing import Any

from publisher.config import (
    DEFAULT_CONFIG_NAME,
    Config,
    config_from_document,
    read_document,
)
from publisher.errors import ConfigError

SITES = "sites"
NO_SITES = ""
"""The one name :func:`load_sites` gives the config of a file without ``[sites]``."""
_SITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def load_sites(path: Path | None) -> dict[str, Config]:
    """Every site of the config file by name, each checked, relative paths resolved against
    the file's folder; ``{"": config}`` for a file without ``[sites]`` (or no file at all).

    A site's ``cache_dir`` defaults to a folder of its own under the shared one, so that each
    site keeps its own state. Two sites may not share an output folder or a store.
    """
    if path is None:
        if not Path(DEFAULT_CONFIG_NAME).is_file():
            return {NO_SITES: Config()}
        path = Path(DEFAULT_CONFIG_NAME)
    raw = read_document(path)
    tables = raw.get(SITES)
    if tables is None:
        return {NO_SITES: config_from_document(raw, path)}
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(
            "expected one table per site, like [sites.news]", path=str(path), field=SITES
        )
    defaults = {key: value for key, value in raw.items() if key != SITES}
    sites = {name: _site(name, table, defaults, path) for name, table in tables.items()}
    check_apart(sites, str(path))
    return sites


def _site(name: str, table: Any, defaults: Mapping[str, Any], path: Path) -> Config:
    """One site's config: the defaults with its table merged over them."""
    field = f"{SITES}.{name}"
    if not _SITE_NAME.fullmatch(name):
        raise ConfigError(
            "a site's name is letters, digits, '-', '_' or '.'", path=str(path), field=field
        )
    if not isinstance(table, dict):
        raise ConfigError("expected a table", path=str(path), field=field)
    merged = merged_tables(defaults, table)
    if "cache_dir" not in table:
        shared = str(defaults.get("cache_dir", Config.cache_dir))
        merged["cache_dir"] = str(PurePosixPath(shared) / name)
    try:
        return config_from_document(merged, path)
    except ConfigError as error:
        raise ConfigError(
            error.reason, path=error.path, field=f"{field}.{error.field}" if error.field else field
        ) from None


def merged_tables(defaults: Mapping[str, Any], table: Mapping[str, Any]) -> dict[str, Any]:
    """``table`` over ``defaults``: a table in both is merged key by key, any other value
    replaces the default."""
    merged = dict(defaults)
    for key, value in table.items():
        default = merged.get(key)
        if isinstance(value, dict) and isinstance(default, dict):
            merged[key] = merged_tables(default, value)
        else:
            merged[key] = value
    return merged


def check_apart(sites: Mapping[str, Config], source: str) -> None:
    """Raise :class:`ConfigError` when two sites write into one folder (or one inside the
    other) or share a state store: each would undo or confuse the other's work."""
    for (first, mine), (second, theirs) in combinations(sites.items(), 2):
        for key, folder in _written(mine).items():
            for other_key, other in _written(theirs).items():
                if folder == other or folder.is_relative_to(other) or other.is_relative_to(folder):
                    raise ConfigError(
                        f"overlaps sites.{second}.{other_key} ({other}): give each site"
                        " folders of its own",
                        path=source,
                        field=f"{SITES}.{first}.{key}",
                    )


def _written(config: Config) -> dict[str, Path]:
    """The folders a site writes, by key, as real paths."""
    folders = {  # every folder of config.OUTPUT_FOLDERS, and the store's
        "out": config.out,
        "digest.out": config.digest.out,
        "digest.archive": config.digest.archive,
        "cache_dir": config.cache_dir,
    }
    return {key: Path(os.path.realpath(folder)) for key, folder in folders.items()}
