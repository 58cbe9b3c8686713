"""The clean, frozen records the rest of publisher works on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

ArticleType = Literal["article", "video"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _FastPickle:
    """Pickle through ``__init__``: the default for frozen, slotted dataclasses is much slower,
    and the parse cache unpickles every article on every run."""

    __slots__ = ()

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        names: tuple[str, ...] = self.__slots__
        return type(self), tuple(getattr(self, name) for name in names)


@dataclass(frozen=True, slots=True)
class Image(_FastPickle):
    """An absolute https image with its size when the source gave one."""

    url: str
    width: int | None = None
    height: int | None = None
    title: str = ""


@dataclass(frozen=True, slots=True)
class Provider(_FastPickle):
    """The publication an article comes from."""

    name: str
    domain: str = ""
    logo: Image | None = None


@dataclass(frozen=True, slots=True)
class Topic(_FastPickle):
    """A topic name and the unique slug its feeds live under."""

    name: str
    slug: str


@dataclass(frozen=True, slots=True)
class Article(_FastPickle):
    """One news article, normalised: URLs absolute, dates aware UTC, text repaired."""

    path: str
    title: str
    url: str
    published_at: datetime
    excerpt: str = ""
    type: ArticleType = "article"
    quality: int | None = None
    heat: int | None = None
    published: bool = True
    provider: Provider | None = None
    topics: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()
    amp_url: str | None = None

    @property
    def lead_image(self) -> Image | None:
        """The first image, the one feeds and the newsletter show."""
        return self.images[0] if self.images else None

    @property
    def is_video(self) -> bool:
        return self.type == "video"
