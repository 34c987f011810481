"""The documentation holds together: every link and every citation resolves inside the repository, and the README
stays a front door (short, pointing into docs/)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
README_MAX_LINES = 200
# Where code, comments and samples may cite documents; the virtualenv and instance data are not ours.
SCANNED = ["kameng", "tests", "bench", "config", "deploy", "templates", "locale", "docs"]
SCANNED_FILES = ["Makefile", "conftest.py", "pyproject.toml", "README.md", "manage.py"]
TEXT_SUFFIXES = {".py", ".html", ".md", ".toml", ".sh", ".conf", ".service", ".example", ".txt", ".po"}
THIS_FILE = Path(__file__).resolve()

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
# A document cited from code: docs/<file>.md, optionally with an anchor.
DOC_CITATION = re.compile(r"\bdocs/([\w./-]+\.md)(#[\w-]+)?")
# Citations of the product spec and the reference notes that live outside this repository.
OUTSIDE = re.compile(r"\bDESIGN\b|\.\./shared\b|/work/shared|compliance checklist|as read in the reference")


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading anchors on its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(path: Path) -> list[str]:
    """Relative links in one Markdown file whose file or anchor does not exist."""
    text = INLINE_CODE.sub("", FENCE.sub("", path.read_text()))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: are not ours to check
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no such heading)")
    return broken


def scanned_files() -> list[Path]:
    files = [ROOT / name for name in SCANNED_FILES if (ROOT / name).exists()]
    for folder in SCANNED:
        files += [p for p in (ROOT / folder).rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES]
    return [p for p in files if p.resolve() != THIS_FILE]


def bad_citations(path: Path) -> list[str]:
    """Lines of one file that cite a document outside the repository, or a docs/ file or section that is missing."""
    bad = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        where = f"{path.relative_to(ROOT)}:{number}"
        if OUTSIDE.search(line):
            bad.append(f"{where}: cites a document outside the repository: {line.strip()}")
        if "§" in line and "docs/" not in line:
            bad.append(f"{where}: a section (§) of which document? cite docs/…md#section: {line.strip()}")
        for name, anchor in DOC_CITATION.findall(line):
            cited = ROOT / "docs" / name
            if not cited.exists():
                bad.append(f"{where}: docs/{name} does not exist")
            elif anchor and anchor[1:] not in anchors(cited):
                bad.append(f"{where}: docs/{name} has no section {anchor}")
    return bad


def test_every_relative_link_in_the_readme_and_docs_resolves():
    broken = {str(p.relative_to(ROOT)): links for p in markdown_files() if (links := broken_links(p))}
    assert broken == {}


def test_code_cites_only_documents_inside_the_repository():
    bad = [line for path in scanned_files() for line in bad_citations(path)]
    assert bad == []


def test_every_document_in_docs_is_reachable_by_a_link():
    linked = set()
    for path in markdown_files():
        text = INLINE_CODE.sub("", FENCE.sub("", path.read_text()))
        for target in LINK.findall(text):
            linked.add((path.parent / target.partition("#")[0]).resolve())
    unlinked = [str(p.relative_to(ROOT)) for p in markdown_files()[1:] if p.resolve() not in linked]
    assert unlinked == []


def test_the_readme_is_a_front_door_not_a_wall():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines: move detail into docs/"


def test_a_missing_file_and_a_missing_heading_are_caught(tmp_path):
    (tmp_path / "other.md").write_text("# Other\n\n## Money and time\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#money-and-time) [gone](missing.md) [wrong](other.md#payments) `[code](missing.md)`\n"
        "```\n[in a fence](missing.md)\n```\n[web](https://example.com/missing.md)\n"
    )
    assert broken_links(page) == ["missing.md (no such file)", "other.md#payments (no such heading)"]


def test_citations_outside_the_repository_and_to_missing_sections_are_caught(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "rules.md").write_text("# Rules\n\n## 5. Cancellation\n")
    code = tmp_path / "code.py"
    code.write_text(
        "# the refund policy (docs/rules.md#5-cancellation)\n"
        "# the refund policy of DESIGN §4\n"
        "# see the law, §18\n"
        "# docs/rules.md#9-nowhere and docs/missing.md\n"
    )
    assert [line.split(": ")[1] for line in bad_citations(code)] == [
        "cites a document outside the repository",
        "a section (§) of which document? cite docs/…md#section",
        "a section (§) of which document? cite docs/…md#section",
        "docs/rules.md has no section #9-nowhere",
        "docs/missing.md does not exist",
    ]


def test_anchors_follow_githubs_rules():
    assert slug("5. Cancellation") == "5-cancellation"
    assert slug("Sweeps and the outbox") == "sweeps-and-the-outbox"
    assert slug("The `deploy/` samples") == "the-deploy-samples"
    assert slug("退订: leaving in two clicks") == "退订-leaving-in-two-clicks"
