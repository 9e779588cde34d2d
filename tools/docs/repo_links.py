"""MkDocs hook: the repository's README is the site's home page, and every link from a page to a file
of the repository outside docs/ is checked, then kept working in the site.

The pages link the way GitHub reads them, relative to the Markdown file in the repository
(docs/security.md links ../SECURITY.md, README.md links docs/demo.md). MkDocs knows only docs/, and
in strict mode fails on a link that leaves it. So, before MkDocs reads a page, this hook:

- rewrites a link into docs/ relative to docs/ (README's `docs/demo.md` is `demo.md` in the site),
  which MkDocs then checks as usual (file, anchor);
- checks a link that leaves docs/ itself: the file must exist in the repository, and its #anchor
  must be a heading of the target (GitHub's slugs) or an `<a id/name>` in it. A broken one is a
  warning, which fails the strict build;
- points such a link at the file on the repository host when mkdocs.yml sets `repo_url` (branch:
  `extra.repo_branch`, default main), else at a copy of the file in the site (`_repo/<path>`,
  written after the build). Images are always copied.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import shutil
from pathlib import Path
from urllib.parse import unquote

from mkdocs.structure.files import File, Files
from mkdocs.utils import get_relative_url

log = logging.getLogger("mkdocs.hooks.repo_links")

# A link that leaves docs/ is written as this scheme until the page is HTML: MkDocs leaves a URL
# with a scheme alone, and on_page_content turns it into the final address.
PLACEHOLDER = "ray-aks-repo:"
SITE_COPIES = "_repo"
HOME = "README.md"

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target "title") and ![alt](target), and reference definitions `[id]: target`.
INLINE_LINK = re.compile(r"(!?)\[[^\]]*\]\(\s*<?([^\s)>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s[^>]*(?:id|name)=[\"']([^\"']+)[\"']", re.I)


class _State:
    """The build's settings (on_config) and the files its pages link outside docs/."""

    def __init__(self) -> None:
        self.repo_root = Path()
        self.docs_prefix = "docs"
        self.copies: set[str] = set()


state = _State()


def on_config(config):
    # The folder of mkdocs.yml, symbolic links kept as they are (paths, not what they point to).
    state.repo_root = Path(os.path.abspath(config.config_file_path)).parent
    state.docs_prefix = Path(os.path.abspath(config.docs_dir)).relative_to(state.repo_root).as_posix()
    state.copies = set()
    return config


def on_files(files: Files, config) -> Files:
    """Add README.md as the home page (docs/index.md would hide it)."""
    if files.get_file_from_path("index.md") is not None:
        log.warning("%s/index.md exists: the site's home page is %s", state.docs_prefix, HOME)
        return files
    files.append(File.generated(config, "index.md", abs_src_path=str(state.repo_root / HOME)))
    return files


def on_serve(server, config, builder):
    server.watch(str(state.repo_root / HOME))
    return server


def repo_path_of(page) -> str:
    """Where the page's Markdown sits in the repository."""
    return Path(os.path.abspath(page.file.abs_src_path)).relative_to(state.repo_root).as_posix()


def on_page_markdown(markdown: str, page, config, files: Files) -> str:
    source = repo_path_of(page)
    lines, fenced = [], False
    for line in markdown.split("\n"):
        if FENCE.match(line):
            fenced = not fenced
        if not fenced:
            line = _rewrite_line(line, source, page.file.src_uri)
        lines.append(line)
    return "\n".join(lines)


def _rewrite_line(line: str, source: str, src_uri: str) -> str:
    code = [m.span() for m in CODE_SPAN.finditer(line)]

    def in_code(position: int) -> bool:
        return any(start <= position < end for start, end in code)

    def replace(match: re.Match, group: int, image: bool) -> str:
        if in_code(match.start()):
            return match.group(0)
        target = match.group(group)
        new = _resolve(target, source, src_uri, image)
        start, end = match.span(group)
        whole_start = match.start()
        return match.group(0)[: start - whole_start] + new + match.group(0)[end - whole_start :]

    line = INLINE_LINK.sub(lambda m: replace(m, 2, m.group(1) == "!"), line)
    return REFERENCE.sub(lambda m: replace(m, 1, False), line)


def _resolve(url: str, source: str, src_uri: str, image: bool) -> str:
    """The URL MkDocs should see for a link written in the repository file `source`."""
    if SCHEME.match(url) or url.startswith(("#", "/")):
        return url  # external, an anchor of this page, or absolute: MkDocs' own checks
    path, _, anchor = url.partition("#")
    target = posixpath.normpath(posixpath.join(posixpath.dirname(source), unquote(path)))
    suffix = f"#{anchor}" if anchor else ""
    if target == ".." or target.startswith("../"):
        log.warning("%s: the link '%s' leaves the repository", source, url)
        return f"{PLACEHOLDER}broken:{url}"
    if target == HOME:
        return get_relative_url("index.md", src_uri) + suffix
    prefix = state.docs_prefix + "/"
    if target.startswith(prefix):
        return get_relative_url(target[len(prefix) :], src_uri) + suffix
    problem = _check_repository_link(target, anchor)
    if problem:
        log.warning("%s: the link '%s' points to %s", source, url, problem)
        return f"{PLACEHOLDER}broken:{url}"  # once: MkDocs would warn about it again
    state.copies.add(target)
    return f"{PLACEHOLDER}{'image:' if image else ''}{target}{suffix}"


def _check_repository_link(target: str, anchor: str) -> str | None:
    """What is wrong with a link to `target` (a repository path outside docs/), or None."""
    path = state.repo_root / target
    if not path.exists():
        return f"'{target}', which does not exist in the repository"
    if anchor and path.is_file() and path.suffix == ".md" and anchor not in markdown_anchors(path):
        return f"'{target}', which has no heading or anchor '#{anchor}'"
    if path.is_dir() and not (path / HOME).is_file():
        return f"the folder '{target}', which has no {HOME} to show in the site"
    return None


def github_slug(heading: str) -> str:
    """GitHub's anchor of a heading: its text lower-cased, punctuation but - and _ dropped,
    each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts as its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("**", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def markdown_anchors(path: Path) -> set[str]:
    """Every anchor GitHub gives a Markdown file: its headings' slugs (repeats get -1, -2, ...)
    and its explicit `<a id=...>`/`<a name=...>`."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        anchors.update(HTML_ANCHOR.findall(line))
        heading = HEADING.match(line)
        if heading:
            slug = github_slug(heading.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def on_page_content(html: str, page, config, files: Files) -> str:
    """Turn each placeholder into the file's address on the repository host or in the site."""
    repo_url = (config.repo_url or "").rstrip("/")
    branch = config.extra.get("repo_branch", "main")

    def address(match: re.Match) -> str:
        attribute, kind, target, anchor = match.groups()
        suffix = f"#{anchor}" if anchor else ""
        if kind == "broken:":
            return f'{attribute}="{target}{suffix}"'  # as written; the build fails in strict mode
        image = kind == "image:"
        if repo_url and not image:
            kind = "tree" if (state.repo_root / target).is_dir() else "blob"
            return f'{attribute}="{repo_url}/{kind}/{branch}/{target}{suffix}"'
        if (state.repo_root / target).is_dir():
            target = posixpath.join(target, HOME)
        return f'{attribute}="{get_relative_url(f"{SITE_COPIES}/{target}", page.url)}{suffix}"'

    pattern = rf'(href|src)="{re.escape(PLACEHOLDER)}(image:|broken:)?([^"#]+)(?:#([^"]*))?"'
    return re.sub(pattern, address, html)


def on_post_build(config) -> None:
    """Copy the repository files the pages link to into the site (what a link without `repo_url`,
    and every image, points at)."""
    site = Path(config.site_dir) / SITE_COPIES
    for target in sorted(state.copies):
        source = state.repo_root / target
        if source.is_dir():
            source, target = source / HOME, posixpath.join(target, HOME)
        destination = site / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
