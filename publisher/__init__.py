"""Publish a folder of curated news articles as feeds and a weekly newsletter."""

__version__ = "0.1.0"
