"""A small Dockerfile reader for the image checks: instructions, build stages, ARG defaults,
variable expansion and .dockerignore matching. Enough for our own Dockerfile; hadolint
(make lint-dockerfiles) lints it."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str  # the rest, continuation lines joined
    line: int  # where it starts (1-based)


def parse(path: Path) -> list[Instruction]:
    """Instructions in order; comments and blank lines dropped, `\\` continuations joined."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        text = " ".join(part for part in pending if part)
        keyword, _, args = text.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
        pending = []
    assert not pending, f"{path}: the file ends inside a continued instruction"
    return instructions


def arg_defaults(instructions: list[Instruction]) -> dict[str, str]:
    """ARG name=default pairs (the first default of each name)."""
    defaults: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "ARG" and "=" in ins.args:
            name, _, value = ins.args.partition("=")
            defaults.setdefault(name.strip(), value.strip().strip('"'))
    return defaults


def expand(text: str, variables: dict[str, str]) -> str:
    """${NAME} and $NAME expanded; an unknown variable is an error (a typo must not pass silently)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise KeyError(f"undefined build variable {name!r} in {text!r}")
        return variables[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, text)


def _from_words(ins: Instruction) -> tuple[str, str | None]:
    """FROM [--platform=...] <image> [AS <name>] -> (image, stage name)."""
    words = [w for w in shlex.split(ins.args) if not w.startswith("--platform")]
    name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
    return words[0], name


def stages(path: Path) -> dict[str, list[Instruction]]:
    """Build stages by name (an unnamed one by its index), each from its FROM to the next."""
    found: dict[str, list[Instruction]] = {}
    current: list[Instruction] | None = None
    for ins in parse(path):
        if ins.keyword == "FROM":
            _, name = _from_words(ins)
            current = found.setdefault(name or str(len(found)), [])
        if current is not None:
            current.append(ins)
    return found


def stages_used_by_others(path: Path) -> set[str]:
    """Stages another stage builds on (FROM) or takes files from (COPY --from, RUN --mount from=)."""
    by_name = stages(path)
    used = {_from_words(instructions[0])[0] for instructions in by_name.values()}
    for instructions in by_name.values():
        for ins in instructions[1:]:
            used |= set(re.findall(r"(?:--from=|[\s,]from=)([\w.-]+)", ins.args))
    return used


def image_stages(path: Path) -> list[str]:
    """The stages nothing else uses: the images (`docker build --target <stage>`)."""
    used = stages_used_by_others(path)
    return sorted(name for name in stages(path) if name not in used)


def target(path: Path, name: str) -> list[Instruction]:
    """What `--target name` builds: the stage's ancestors' instructions, then its own."""
    by_name = stages(path)
    chain = [by_name[name]]
    while (base := _from_words(chain[0][0])[0]) in by_name:
        chain.insert(0, by_name[base])
    return [ins for instructions in chain for ins in instructions]


def from_images(path: Path, build_args: dict[str, str] | None = None) -> list[str]:
    """Every base image pulled (FROM another stage is not one), resolved with the ARG defaults
    overridden by `build_args`."""
    instructions = parse(path)
    variables = arg_defaults(instructions) | (build_args or {})
    stage_names = set(stages(path))
    images = []
    for ins in instructions:
        if ins.keyword == "FROM":
            image, _ = _from_words(ins)
            if image not in stage_names:
                images.append(expand(image, variables))
    return images


def copy_sources(instructions: list[Instruction]) -> list[str]:
    """Sources of every COPY/ADD from the build context (not --from another stage)."""
    sources: list[str] = []
    for ins in instructions:
        if ins.keyword not in ("COPY", "ADD"):
            continue
        words = shlex.split(ins.args)
        if any(w.startswith("--from") for w in words):
            continue
        paths = [w for w in words if not w.startswith("--")]
        sources.extend(paths[:-1])  # the last one is the destination
    return sources


def labels(instructions: list[Instruction]) -> dict[str, str]:
    found: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "LABEL":
            for word in shlex.split(ins.args):
                key, _, value = word.partition("=")
                found[key] = value
    return found


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """.dockerignore glob (Go filepath.Match plus `**`): `*` and `?` stay within one path segment."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore_includes(patterns: list[str], path: str) -> bool:
    """Whether .dockerignore keeps `path` in the build context: the last matching pattern wins, and
    a pattern that matches a parent directory matches everything under it."""
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for raw in patterns:
        negate = raw.startswith("!")
        regex = _glob_regex((raw[1:] if negate else raw).strip("/"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            included = negate
    return included


def read_dockerignore(path: Path) -> list[str]:
    return [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
