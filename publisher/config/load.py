"""``config.toml`` → a frozen :class:`~publisher.config.model.Config`; every error names the key."""

from __future__ import annotations

import math
import tomllib
import types
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from publisher.config.checks import check_config, check_folders
from publisher.config.model import DEFAULT_CONFIG_NAME, Config
from publisher.errors import ConfigError


def load_config(path: Path | None) -> Config:
    """Read ``path``, or ``config.toml`` in the working directory when it exists, else defaults.

    A file of several sites (``[sites]``) is read with :func:`publisher.sites.load_sites`.
    """
    if path is None:
        default = Path(DEFAULT_CONFIG_NAME)
        if not default.is_file():
            return Config()
        path = default
    raw = read_document(path)
    if "sites" in raw:
        raise ConfigError(
            "holds several sites: name one with --site", path=str(path), field="sites"
        )
    return config_from_document(raw, path)


def read_document(path: Path) -> dict[str, Any]:
    """The parsed TOML of ``path``; a :class:`ConfigError` when it cannot be read or parsed."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("file not found", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read: {error}", path=str(path)) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"invalid TOML: {error}", path=str(path)) from None


def config_from_document(raw: Mapping[str, Any], path: Path) -> Config:
    """The checked config of a parsed document read from ``path``, its paths resolved."""
    # Paths are resolved before the checks, so that folders are compared where they really are.
    config = resolve_paths(_build(Config, raw, str(path), prefix=""), path.parent)
    check_config(config, str(path))
    return config


def parse_config(raw: Mapping[str, Any], source: str = DEFAULT_CONFIG_NAME) -> Config:
    """Check every key and type of a parsed TOML document and build the config; its relative
    paths are relative to the working directory."""
    config: Config = _build(Config, raw, source, prefix="")
    check_config(config, source)
    check_folders(config, source)
    return config


def resolve_paths(config: Config, base: Path) -> Config:
    """Make the config's relative paths relative to ``base`` (the config file's folder)."""
    if base == Path():
        return config
    digest = replace(
        config.digest,
        templates=str(base / config.digest.templates) if config.digest.templates else "",
        out=str(base / config.digest.out),
        archive=str(base / config.digest.archive),
    )
    return replace(
        config,
        content=str(base / config.content),
        out=str(base / config.out),
        cache_dir=str(base / config.cache_dir),
        digest=digest,
    )


def _build(cls: type[Any], raw: Mapping[str, Any], source: str, prefix: str) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if key not in known:
            raise ConfigError("unknown key", path=source, field=name)
        values[key] = _convert(hints[key], value, source, name)
    return cls(**values)


def _convert(hint: Any, value: Any, source: str, name: str) -> Any:
    origin = get_origin(hint)
    if isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
        if not isinstance(value, dict):
            raise ConfigError("expected a table", path=source, field=name)
        return _build(hint, value, source, prefix=f"{name}.")
    if origin is Mapping:
        if not isinstance(value, dict):
            raise ConfigError("expected a table", path=source, field=name)
        item_type = get_args(hint)[1]
        return {
            key: _convert(item_type, item, source, f"{name}.{key}") for key, item in value.items()
        }
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError("expected a list of strings", path=source, field=name)
        return tuple(value)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        inner = next(arg for arg in get_args(hint) if arg is not type(None))
        return _convert(inner, value, source, name)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, float) and not math.isfinite(value):
        # TOML has nan and inf; no setting means either.
        raise ConfigError(f"expected a finite number, got {value!r}", path=source, field=name)
    if type(value) is not hint:
        raise ConfigError(f"expected {_type_name(hint)}, got {value!r}", path=source, field=name)
    return value


def _type_name(hint: Any) -> str:
    return {str: "a string", int: "an integer", bool: "true or false", float: "a number"}.get(
        hint, str(hint)
    )
