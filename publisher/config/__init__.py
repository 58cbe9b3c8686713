"""``config.toml`` → a frozen :class:`Config`; every error names the key.

``model`` holds the settings and their defaults, ``load`` reads and builds them, ``checks``
holds every check of every setting, as a table of rules.
"""

from __future__ import annotations

from publisher.config.checks import (
    MAX_RETIRE_DAYS,
    MAX_UNSUBSCRIBE_URL,
    OUTPUT_FOLDERS,
    OWN_FOLDERS,
    RULES,
    address_problem,
    check_config,
    check_folders,
    envelope_part,
    integer_settings,
    url_problem,
)
from publisher.config.load import (
    config_from_document,
    load_config,
    parse_config,
    read_document,
    resolve_paths,
)
from publisher.config.model import (
    CADENCES,
    DEFAULT_CONFIG_NAME,
    DEFAULT_SITE_URL,
    LONGEST_MAX_AGE,
    PRECOMPRESS_ENCODINGS,
    TLS_MODES,
    WEEKDAYS,
    ArchiveConfig,
    Config,
    DigestConfig,
    OutputConfig,
    SelectionConfig,
    SiteConfig,
    SmtpConfig,
    TopicRule,
    WebSubConfig,
)

__all__ = [
    "CADENCES",
    "DEFAULT_CONFIG_NAME",
    "DEFAULT_SITE_URL",
    "LONGEST_MAX_AGE",
    "MAX_RETIRE_DAYS",
    "MAX_UNSUBSCRIBE_URL",
    "OUTPUT_FOLDERS",
    "OWN_FOLDERS",
    "PRECOMPRESS_ENCODINGS",
    "RULES",
    "TLS_MODES",
    "WEEKDAYS",
    "ArchiveConfig",
    "Config",
    "DigestConfig",
    "OutputConfig",
    "SelectionConfig",
    "SiteConfig",
    "SmtpConfig",
    "TopicRule",
    "WebSubConfig",
    "address_problem",
    "check_config",
    "check_folders",
    "config_from_document",
    "envelope_part",
    "integer_settings",
    "load_config",
    "parse_config",
    "read_document",
    "resolve_paths",
    "url_problem",
]
