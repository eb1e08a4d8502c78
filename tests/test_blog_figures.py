"""Every figure the blog posts quote comes from the benchmark's or the estimate's output files.

The rule (also in docs/blog/README.md), applied to docs/blog/*.md:

1. Not read: fenced code blocks, inline `code`, link and image targets `(...)` after `]`, HTML
   comments, and a line's ordered-list marker (`1.`) or a heading's leading section number.
2. Not checked (they are not measurements):
   - integers 0 to 10 written without decimals (counts: "three problems", "5 datasets",
     "7 days", "2 years");
   - years, 1900 to 2099, written as four digits alone, and dates (2024-01-31, 2026-11);
   - digits glued to a word or identifier before them (SF0, v2, A1). Digits followed by
     letters are checked like any number: "90d" is 90, "57M" is 57 (write 57,117,662).
3. Every other number must equal a value that docs/bench/results.json, docs/bench/results.md
   or docs/estimate/estimate.json holds (numbers inside their strings count), after rounding
   that value to the number of decimals the post writes: "1.4 %" matches 1.4, "$2,845"
   matches 2844.86, "2.3x" matches 2.31; "2.4x" matches none of them.
   English posts (*.en.md) write 1,234.5; Vietnamese posts (*.vi.md) write 1.234,5.

The values are the headline parts of the files: results.json without its per-session and
per-node timings, every number in results.md, estimate.json without its month-by-month rows
other than months 12 and 24 (the table's). That keeps the pool small enough that an invented
figure is caught (see test_an_invented_figure_fails).
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
BLOG = REPOSITORY / "docs" / "blog"
SOURCES = (
    REPOSITORY / "docs/bench/results.json",
    REPOSITORY / "docs/bench/results.md",
    REPOSITORY / "docs/estimate/estimate.json",
)

FENCED = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK_TARGET = re.compile(r"\]\([^)]*\)")
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
LIST_MARKER = re.compile(r"^(\s*)(#+\s*)?\d+(\.\d+)*[.)]\s", re.MULTILINE)
DATE = re.compile(r"(?<![\w.,])(19|20)\d\d-\d\d(-\d\d)?(?![\w])")
# A number: digits with optional thousands groups and decimals, not glued to a word before it.
NUMBER = {
    "en": re.compile(r"(?<![\w.,/-])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?!\d)"),
    "vi": re.compile(r"(?<![\w.,/-])(\d{1,3}(?:\.\d{3})+|\d+)(,\d+)?(?!\d)"),
}
SOURCE_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")


def language_of(path: Path) -> str:
    return "vi" if path.name.endswith(".vi.md") else "en"


def readable_text(markdown: str) -> str:
    """The post without what rule 1 leaves out (replaced by spaces, so nothing joins up)."""
    for pattern in (FENCED, COMMENT, INLINE_CODE, LINK_TARGET, DATE):
        markdown = pattern.sub(" ", markdown)
    return LIST_MARKER.sub(lambda match: match.group(1) + " ", markdown)


def figures(markdown: str, language: str) -> list[tuple[str, Decimal, int]]:
    """(as written, value, decimals) of every number rule 3 checks."""
    found = []
    thousands, decimal_mark = (",", ".") if language == "en" else (".", ",")
    for match in NUMBER[language].finditer(readable_text(markdown)):
        whole, fraction = match.group(1), match.group(2) or ""
        digits = whole.replace(thousands, "") + (("." + fraction[1:]) if fraction else "")
        value = Decimal(digits)
        decimals = len(fraction) - 1 if fraction else 0
        if decimals == 0 and value <= 10:
            continue  # a count
        if decimals == 0 and thousands not in whole and len(whole) == 4 and 1900 <= value <= 2099:
            continue  # a year
        assert decimal_mark  # documented above; the pattern encodes it
        found.append((match.group(0), value, decimals))
    return found


def _walk(node, skip: tuple[str, ...] = (), path: str = ""):
    if isinstance(node, dict):
        for key, value in node.items():
            child = f"{path}.{key}" if path else key
            if any(re.fullmatch(pattern, child) for pattern in skip):
                continue
            yield from _walk(value, skip, child)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, skip, f"{path}[{index}]")
    elif isinstance(node, bool) or node is None:
        return
    elif isinstance(node, (int, float)):
        yield Decimal(str(node))
    elif isinstance(node, str):
        for number in SOURCE_NUMBER.findall(node):
            yield Decimal(number.replace(",", ""))


def source_values(sources=SOURCES) -> set[Decimal]:
    values: set[Decimal] = set()
    for source in sources:
        text = source.read_text()
        if source.suffix == ".md":
            values.update(
                Decimal(number.replace(",", "")) for number in SOURCE_NUMBER.findall(text)
            )
            continue
        data = json.loads(text)
        if source.name == "results.json":
            # the headline parts: no per-session timings, no per-node timings
            skip = (
                r"plain\.sessions",
                r"strategies\.[^.]+\.[^.]+\.runs",
                r".*\.nodes",
                r".*\.idle_run",
                r"strategies\.[^.]+\.catchup\.run",
            )
        else:
            data = {
                **data,
                "strategies": {
                    name: {
                        **result,
                        "months": [
                            month for month in result["months"] if month["month"] in (12, 24)
                        ],
                    }
                    for name, result in data["strategies"].items()
                },
            }
            skip = ()
        values.update(_walk(data, skip))
    return {abs(value) for value in values}


def unsupported(markdown: str, language: str, values: set[Decimal]) -> list[str]:
    """The figures of a post that no source value rounds to."""
    missing = []
    for written, value, decimals in figures(markdown, language):
        quantum = Decimal(1).scaleb(-decimals)
        if not any(source.quantize(quantum, rounding=ROUND_HALF_UP) == value for source in values):
            missing.append(written)
    return missing


@pytest.fixture(scope="module")
def values() -> set[Decimal]:
    return source_values()


POSTS = sorted(BLOG.glob("*.md"))
POSTS = [post for post in POSTS if post.name != "README.md"]


def test_both_posts_exist():
    names = {post.name for post in POSTS}
    assert {"backup-module-bigquery.en.md", "backup-module-bigquery.vi.md"} <= names


@pytest.mark.parametrize("post", POSTS, ids=lambda post: post.name)
def test_every_figure_comes_from_the_output_files(post, values):
    text = post.read_text()
    checked = figures(text, language_of(post))
    assert len(checked) >= 20, (
        f"{post.name}: only {len(checked)} figures found; is the extraction broken?"
    )
    missing = unsupported(text, language_of(post), values)
    assert not missing, (
        f"{post.name} quotes figures that docs/bench/results.* and docs/estimate/estimate.json "
        f"do not hold: {missing}. Re-run `make estimate`, or fix the post."
    )


def test_an_invented_figure_fails(values):
    post = (
        "Head/History stores **1.4 %** of full and costs $2,444 over 24 months.\n"
        "It restores 3.17x faster and costs $1,234 a month.\n"
    )
    assert unsupported(post, "en", values) == ["3.17", "1,234"]
    assert unsupported(
        "Head/History lưu 1,4 % và tốn 2.444 USD, nhưng 73,3 lần.", "vi", values
    ) == ["73,3"]


def test_rounding_is_explicit():
    pool = {Decimal("2.31"), Decimal("2844.86")}
    assert unsupported("2.31x, 2.3x, 2.310x, $2,845, $2,844.9", "en", pool) == []
    assert unsupported("2.4x, 2.32x, $2,840, $2,844.8", "en", pool) == [
        "2.4",
        "2.32",
        "2,840",
        "2,844.8",
    ]
    assert unsupported("2,3 lần, 2.845 USD, 2,4 lần", "vi", pool) == ["2,4"]


def test_what_is_not_read_or_not_checked():
    text = (
        "## 3. Results in 2026\n\n1. On 2024-01-31 we had 7 days, 2 years and `90d`, `0.4321`.\n"
        "```sql\nselect 12345.678\n```\n![plot](docs/estimate/cumulative_cost_77.png) <!-- 999.5 -->\n"
        "TPC-H SF0 v2 is fine.\n"
    )
    assert figures(text, "en") == []
    assert [written for written, _, _ in figures("costs $12,345.6 for 3 rows, 2.31x", "en")] == [
        "12,345.6",
        "2.31",
    ]
    assert [
        (written, str(value)) for written, value, _ in figures("1.021.803 dòng, 1,4 %", "vi")
    ] == [("1.021.803", "1021803"), ("1,4", "1.4")]
