"""The fast front-matter parser gives exactly what PyYAML's CSafeLoader gives."""

from __future__ import annotations

import datetime
import math
import pathlib
import random
import re
import subprocess
import sys

import pytest
import yaml

from publisher.content.frontmatter import parse_yaml as parse_front_matter_yaml

CORPUS = pathlib.Path(__file__).resolve().parents[2] / "shared" / "corpus"
FRONT_MATTER = re.compile(r"---[ \t]*\r?\n(.*?)^---[ \t]*\r?$", re.DOTALL | re.MULTILINE)

TRICKY_SCALARS = [
    "yes",
    "No",
    "ON",
    "off",
    "y",
    "n",
    "true",
    "False",
    "TRUE",
    "~",
    "null",
    "Null",
    "NULL",
    "0",
    "-0",
    "+1",
    "-1",
    "0123",
    "0o17",
    "0x1F",
    "0b101",
    "1_000",
    "1:30",
    "-1:30:00",
    "190:20:30",
    "1.5",
    ".5",
    "-.5",
    "1e3",
    "1.0e+3",
    "1.0e3",
    "3.",
    ".inf",
    "-.INF",
    ".nan",
    "1_0.5",
    "2020-02-12",
    "2020-2-12",
    "2020-02-12T15:30:00Z",
    "2020-02-12t15:30:00z",
    "2020-02-12 15:30:00",
    "2020-02-12T15:30:00.123456789+05:30",
    "2020-02-12T15:30:00-7",
    "2020-13-45",
    "2020-02-12T25:30:00Z",
    "=",
    "<<",
    "hello world",
    "a: b",
    "a #b",
    "a#b",
    "http://x.y/?a=1&b=2",
    "-a",
    "?a",
    ":a",
    "- a",
    "#x",
    "@x",
    "`x",
    "%x",
    "&x",
    "*x",
    "!x",
    "!!python/object/apply:os.system ['true']",
    "[1, 2]",
    "{a: 1}",
    "|",
    ">",
    "a\tb",
    "\u00e9t\u00e9",
    "\u2028",
    "\x85",
    "\ufeff",
    "emoji \U0001f600",
    "",
    " ",
    "'",
    '"',
    "it's",
    'say "hi"',
    "back\\slash",
    "trailing ",
    "x:",
    "a::b",
]
PLAIN_KEYS = [
    "a",
    "title",
    "yes",
    "1",
    "null",
    "2020-01-01",
    "x_y",
    "a.b",
    "a-b",
    "1.5",
]


def _reference(text: str) -> object:
    """Return what CSafeLoader returns, or its exception as (type, message)."""
    try:
        return yaml.load(text, Loader=yaml.CSafeLoader)
    except Exception as exc:
        return (type(exc), str(exc))


def _candidate(text: str) -> object:
    """Return what parse_front_matter_yaml returns, or its exception as (type, message)."""
    try:
        return parse_front_matter_yaml(text)
    except Exception as exc:
        return (type(exc), str(exc))


def _typed(value: object, ancestors: frozenset[int] = frozenset()) -> object:
    """Turn a value into a comparable form that also records exact types, tzinfo and cycles."""
    if isinstance(value, (dict, list)):
        if id(value) in ancestors:
            return ("cycle",)
        inner = ancestors | {id(value)}
        if isinstance(value, dict):
            return (
                "dict",
                [(_typed(k, inner), _typed(v, inner)) for k, v in value.items()],
            )
        return ("list", [_typed(v, inner) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    if isinstance(value, datetime.datetime):
        return ("datetime", value.isoformat(), repr(value.tzinfo))
    return (type(value).__name__, value)


def _assert_same(text: str) -> None:
    """Assert the fast parser agrees exactly with CSafeLoader on ``text``."""
    assert _typed(_candidate(text)) == _typed(_reference(text)), text


def _front_matters() -> list[str]:
    """Return the front matter of every corpus file."""
    texts = []
    for path in sorted(CORPUS.glob("*/_news/*.md")):
        match = FRONT_MATTER.match(path.read_bytes().decode("utf-8"))
        texts.append(match.group(1) if match else "")
    return texts


def _random_scalar(rng: random.Random) -> object:
    """Return a random Python scalar for yaml.dump."""
    return rng.choice(
        [
            rng.choice(TRICKY_SCALARS),
            rng.randint(-(10**12), 10**12),
            rng.random() * 10 ** rng.randint(-5, 20),
            rng.choice([True, False, None]),
            datetime.date(rng.randint(1, 9999), 2, 28),
            datetime.datetime(2020, 2, 12, 15, 30, rng.randint(0, 59), rng.choice([0, 123456])),
            datetime.datetime(2020, 2, 12, 15, 30, tzinfo=datetime.UTC),
            "".join(
                rng.choice("ab :#-'\"\\\u00e9\n\t?{}[],&*!|>") for _ in range(rng.randint(0, 12))
            ),
        ]
    )


def _random_value(rng: random.Random, depth: int) -> object:
    """Return a random nested document of dicts, lists and scalars."""
    roll = rng.random()
    if depth > 3 or roll < 0.5:
        return _random_scalar(rng)
    if roll < 0.8:
        return {
            rng.choice([*PLAIN_KEYS, *TRICKY_SCALARS[:20]]): _random_value(rng, depth + 1)
            for _ in range(rng.randint(0, 5))
        }
    return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def _random_line(rng: random.Random) -> str:
    """Return one random raw YAML line built from keys, dashes and tricky scalars."""
    indent = " " * rng.choice([0, 0, 2, 2, 4, 4, 6, 1, 3])
    head = rng.choice(["", "- ", "- ", "-", "-  "]) + rng.choice(
        ["", "", *(k + ":" for k in PLAIN_KEYS)]
    )
    scalar = rng.choice(TRICKY_SCALARS)
    value = rng.choice(
        [
            scalar,
            scalar,
            f'"{scalar}"',
            f"'{scalar}'",
            "",
            "# note",
            '"a\\x41\\u00e9\\/\\n"',
        ]
    )
    spacing = rng.choice([" ", " ", "  ", "", " "])
    return indent + head + (spacing + value if value else rng.choice(["", " "]))


def _raw_scalar(rng: random.Random) -> str:
    """Return a scalar as written in YAML text: plain, double- or single-quoted."""
    scalar = rng.choice(TRICKY_SCALARS)
    return rng.choice(
        [
            scalar,
            scalar,
            scalar,
            f'"{scalar}"',
            f"'{scalar}'",
            "2023-01-03T21:22:41Z",
            "-1",
            "50",
        ]
    )


def _raw_block(rng: random.Random, indent: int, depth: int) -> list[str]:
    """Return lines of a random block mapping or sequence at ``indent`` columns."""
    step = rng.choice([1, 2, 2, 4])
    if rng.random() < 0.6:
        lines = []
        for key in rng.sample(PLAIN_KEYS, rng.randint(1, 4)):
            if depth < 3 and rng.random() < 0.4:
                inner = indent + (0 if rng.random() < 0.3 else step)
                nested = _raw_block(rng, inner, depth + 1)
                if inner == indent and not nested[0].lstrip().startswith("-"):
                    inner += step
                    nested = _raw_block(rng, inner, depth + 1)
                lines += [" " * indent + key + ":", *nested]
            else:
                lines.append(" " * indent + key + ": " + _raw_scalar(rng))
        return lines
    lines = []
    for _ in range(rng.randint(1, 3)):
        if depth < 3 and rng.random() < 0.4:
            nested = _raw_block(rng, indent + 2, depth + 1)
            lines += [" " * indent + "- " + nested[0].lstrip(" "), *nested[1:]]
        else:
            lines.append(" " * indent + "- " + _raw_scalar(rng))
    return lines


def test_corpus_files_match_csafeloader() -> None:
    """Every real corpus front matter parses exactly like CSafeLoader."""
    texts = _front_matters()
    if not texts:
        pytest.skip("corpus not available")
    for text in texts:
        _assert_same(text)


def test_corpus_files_take_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Typical front matter never needs the CSafeLoader fallback."""
    texts = _front_matters()
    if not texts:
        pytest.skip("corpus not available")
    expected = [_typed(_reference(text)) for text in texts]
    monkeypatch.setattr(yaml, "load", None)
    assert [_typed(parse_front_matter_yaml(text)) for text in texts] == expected


@pytest.mark.parametrize("scalar", TRICKY_SCALARS)
@pytest.mark.parametrize(
    "template", ["k: {}\n", "- {}\n", "k:\n  - {}\n", '"{}"', "k: '{}'\n", "{}: v\n"]
)
def test_tricky_scalars_match_csafeloader(scalar: str, template: str) -> None:
    """Tricky plain and quoted scalars resolve to the same typed values."""
    _assert_same(template.format(scalar))


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\r\nb:\r\n  - x\r\n",
        "a: 1\rb: 2\n",
        "a: 1\nb: 2",
        "",
        "# only a comment\n",
        "a: 1\na: 2\n",
        "a:\n- 1\n- 2\nb: 3\n",
        "- a: 1\n  b:\n  - x\n- c\n",
        "-\n  a: 1\n-\n",
        "a:\n  b:\n    c: 1\n  d: 2\n",
        "a: [1, 2]\n",
        "a: {b: 1}\n",
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: |\n  text\n",
        "a: >\n  text\n",
        "a: one\n  two\n",
        'a: "one\n  two"\n',
        "? a\n: b\n",
        "a:\tb\n",
        "a: 1 # c\n",
        'a: "x" # c\n',
        "a: 1\n b: 2\n",
        "a:\n  - 1\n - 2\n",
        "- a: 1\n   b: 2\n",
        "a: b: c\n",
        "a: - b\n",
        "---\na: 1\n",
        "a: 1\n...\n",
        "%YAML 1.1\n---\na: 1\n",
        "key with space: 1\n",
        '"quoted key": 1\n',
        "<<: {a: 1}\n",
        "a: 1\n  # indented comment\nb: 2\n",
        "a: '\u2028'\n",
        "a: 'x''y'\n",
        "a: 'x'y'\n",
        'a: "\\ud800"\n',
        'a: "\\q"\n',
        'a: "\\U0010FFFF \\x41 \\N \\_ \\e \\0"\n',
        "a: 1\n\n\nb: 2\n  \n",
        "  a: 1\n  b: 2\n",
        "  a: 1\nb: 2\n",
        "a:\n  -\n  - b\n",
        "[a]\n",
        "plain document\n",
        "- - a\n",
        "a:    \n",
        "a: b   \n",
        "a: 1\nb:\n",
        "a: []\nb: {}\nc: [ ]\n- {}\n",
        "a: []\nb:\n- {}\n- []  \n",
        "k" * 1030 + ": v\n",
    ],
)
def test_structures_match_csafeloader(text: str) -> None:
    """Structures inside and outside the fast-path subset give identical results or errors."""
    _assert_same(text)


def test_python_tags_never_execute() -> None:
    """A python/object/apply tag raises a ConstructorError instead of running code."""
    with pytest.raises(yaml.constructor.ConstructorError):
        parse_front_matter_yaml("a: !!python/object/apply:os.system ['exit 3']\n")


def test_alias_bomb_is_cheap() -> None:
    """A billion-laughs document gives shared lists, not an expanded copy of each."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    result = parse_front_matter_yaml("\n".join(lines) + "\n")
    assert result["a9"][0] is result["a8"]  # type: ignore[index]


def test_invalid_yaml_raises_yaml_error() -> None:
    """Malformed YAML raises yaml.YAMLError like CSafeLoader."""
    with pytest.raises(yaml.YAMLError):
        parse_front_matter_yaml('a: "unterminated\nb: [1\n')


def test_fuzz_dumped_documents_match_csafeloader() -> None:
    """Random documents written by yaml.dump in several styles parse identically."""
    rng = random.Random(1234)
    for _ in range(3000):
        document = {key: _random_value(rng, 1) for key in rng.sample(PLAIN_KEYS, rng.randint(1, 6))}
        text = yaml.dump(
            document,
            Dumper=yaml.SafeDumper,
            default_flow_style=rng.choice([False, False, None]),
            default_style=rng.choice([None, None, '"', "'"]),
            indent=rng.choice([2, 4]),
            width=rng.choice([80, 10**6]),
            allow_unicode=rng.choice([True, False]),
            sort_keys=rng.choice([True, False]),
        )
        _assert_same(text)


def test_fuzz_random_lines_match_csafeloader() -> None:
    """Random raw documents (valid or not) give identical results or errors."""
    rng = random.Random(5678)
    for _ in range(20000):
        _assert_same(
            "\n".join(_random_line(rng) for _ in range(rng.randint(1, 6))) + rng.choice(["", "\n"])
        )


def test_fuzz_raw_block_documents_match_csafeloader() -> None:
    """Random well-indented block documents with raw tricky scalars parse identically."""
    rng = random.Random(91011)
    for _ in range(20000):
        lines = _raw_block(rng, 0, 0)
        for _ in range(rng.randint(0, 2)):
            lines.insert(
                rng.randint(0, len(lines)),
                rng.choice(["", "  ", "# comment: x", "  # 'quoted' \"c\""]),
            )
        _assert_same("\n".join(lines) + rng.choice(["", "\n", "\n\n"]))


PARSE_IN_A_PROCESS = """
import sys
from publisher.content.frontmatter import parse_yaml
try:
    print(repr(parse_yaml(sys.stdin.read())))
except Exception as error:
    print(type(error).__name__)
"""


def _parsed_elsewhere(text: str) -> str:
    """What parse_yaml gives for ``text``, worked out in a separate process that is killed
    (failing the test) if it takes more than 30 s."""
    completed = subprocess.run(
        [sys.executable, "-c", PARSE_IN_A_PROCESS],
        input=text,
        capture_output=True,
        encoding="utf-8",
        timeout=30,
        check=True,
    )
    return completed.stdout.strip()


def _expected_here(text: str) -> str:
    """What CSafeLoader gives for ``text``, as :func:`_parsed_elsewhere` prints it."""
    try:
        return repr(yaml.load(text, Loader=yaml.CSafeLoader))
    except Exception as error:
        return type(error).__name__


@pytest.mark.parametrize(
    "line",
    ["{spaces}\t", "- {spaces}\t", "-{spaces}\t", "key:{spaces}\t", "- key:{spaces}\t"],
)
def test_a_long_run_of_spaces_is_parsed_in_linear_time(line: str) -> None:
    """A million spaces then a tab: seconds squared if a regex backtracks, milliseconds now.

    (40,000 spaces once took 11 s; a million would take hours, so the 30 s timeout fails it.)
    """
    text = "title: x\n" + line.format(spaces=" " * 1_000_000) + "\n"
    assert _expected_here(text) == _parsed_elsewhere(text)


def _spacey_line(rng: random.Random) -> str:
    """A line of runs of spaces, dashes, keys and odd characters (tabs, CR, controls)."""
    parts = [
        " " * rng.randint(0, 6),
        rng.choice(["", "-", "- ", "-  ", "-\t"]),
        rng.choice(["", "key:", "a.b-c:", "x:y"]),
        " " * rng.randint(0, 6),
        rng.choice(["", "v", "'q'", '"d"', "#c", "- v", "a b"]),
        " " * rng.randint(0, 4),
        rng.choice(["", "\t", "\r", "\x01", "\ufeff", "\u2028", " #x", ":"])
        if rng.random() < 0.2
        else "",
    ]
    return "".join(parts)


def test_fuzz_lines_of_spaces_and_odd_characters_match_csafeloader() -> None:
    """Where the possessive runs of spaces matter, the fast path still agrees with PyYAML."""
    rng = random.Random(4242)
    for _ in range(20000):
        _assert_same(
            "\n".join(_spacey_line(rng) for _ in range(rng.randint(1, 5))) + rng.choice(["", "\n"])
        )
