"""What the deployment checks read from a Dockerfile: its stages and their instructions, so they
can say which stage installs which package and what the final image runs.

Deliberately no interpreter: a check names the build arg a word refers to and compares the
value Compose passes (only COPY sources are expanded, to find them in the context), and
hadolint judges the file itself (tests/deploy/test_hadolint.py).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from docker.utils.build import PatternMatcher

from tests.deploy.support.workspace import ROOT

_CONTINUED = re.compile(r"\\\n")
# $NAME, ${NAME}, and ${NAME:-word} / ${NAME:?message} / ${NAME:+word}
_ARG_REFERENCE = re.compile(r"\$\{?([A-Za-z_]\w*)(?::?[-?+][^}]*)?\}?")
_PLAIN_REFERENCE = re.compile(r"\$\{?([A-Za-z_]\w*)\}?")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


@dataclass(frozen=True)
class Stage:
    name: str
    base: str  # the FROM image, or an earlier stage's name
    instructions: tuple[Instruction, ...]

    def args(self, keyword: str) -> list[str]:
        return [i.args for i in self.instructions if i.keyword == keyword]


@dataclass(frozen=True)
class Image:
    """`docker build --target <target>`: the stages it runs, and those that make its layers."""

    where: str  # for messages: "services/Dockerfile --target worker"
    built: dict[str, Stage]  # every stage the build runs (FROM chain and COPY --from sources)
    layers: tuple[Stage, ...]  # the target and the stages it is FROM, base first

    def final(self, keyword: str) -> list[str]:
        """Arguments of the `keyword` instructions that end up in the image, in order."""
        return [args for stage in self.layers for args in stage.args(keyword)]

    def everywhere(self, keyword: str) -> list[str]:
        return [args for stage in self.built.values() for args in stage.args(keyword)]

    def declared_args(self) -> set[str]:
        return {word.partition("=")[0] for args in self.everywhere("ARG") for word in args.split()}

    def env(self) -> dict[str, str]:
        """The image's ENV (KEY=VALUE form), unexpanded: a value may name a build arg."""
        pairs = (word.partition("=") for args in self.final("ENV") for word in shlex.split(args))
        return {key: value for key, _, value in pairs}


@cache
def stages(path: Path) -> dict[str, Stage]:
    """The stages of `path` by name (`FROM image AS name`)."""
    relative = path.relative_to(ROOT)
    found: dict[str, Stage] = {}
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = _CONTINUED.sub(" ", "\n".join(lines))
    name, base = "", ""
    body: list[Instruction] = []
    for line in filter(None, (raw.strip() for raw in joined.splitlines())):
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            if name:
                found[name] = Stage(name, base, tuple(body))
            words = [w for w in args.split() if not w.startswith("--")]
            unnamed = f"{relative}: name every stage (FROM image AS name): {line}"
            assert len(words) == 3, unnamed
            assert words[1].upper() == "AS", unnamed
            base, name, body = words[0], words[2], []
        else:
            assert name, f"{relative}: {keyword} before the first FROM"
            body.append(Instruction(keyword.upper(), args.strip()))
    assert name, f"{relative} has no FROM"
    found[name] = Stage(name, base, tuple(body))
    return found


def image(path: Path, target: str) -> Image:
    every = stages(path)
    where = f"{path.relative_to(ROOT)} --target {target}"
    assert target in every, f"{where}: no stage `FROM ... AS {target}` (has {', '.join(every)})"
    layers = [every[target]]
    while layers[0].base in every:
        layers.insert(0, every[layers[0].base])
    built: dict[str, Stage] = {}
    pending = [target]
    while pending:
        stage = every[pending.pop()]
        if stage.name in built:
            continue
        built[stage.name] = stage
        sources = re.findall(r"--from=(\S+)", " ".join(stage.args("COPY")))
        pending += [name for name in [stage.base, *sources] if name in every]
    return Image(where, built, tuple(layers))


def assert_runs_as_non_root(built: Image) -> None:
    users = [args.split(":")[0] for args in built.final("USER")]
    assert users, f"{built.where}: the runtime stage must switch to a non-root USER"
    assert users[-1] not in {"root", "0"}, f"{built.where}: runs as {users[-1]}"


def exec_form(args: str) -> list[str] | None:
    """The JSON array of an ENTRYPOINT / CMD in exec form, or None in shell form."""
    try:
        parsed = json.loads(args)
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, list) else None


def arg_reference(word: str) -> str | None:
    """The build arg `word` expands to ($NAME, ${NAME}, ${NAME:?message}, ...), if it is one."""
    match = _ARG_REFERENCE.fullmatch(word)
    return match.group(1) if match else None


def expand(word: str, build_args: dict[str, str]) -> str:
    """`word` with the plain references ($NAME, ${NAME}) to `build_args` replaced."""
    return _PLAIN_REFERENCE.sub(lambda m: build_args.get(m.group(1), m.group(0)), word)


def uv_syncs(built: Image) -> list[list[str]]:
    """The arguments of every `uv sync` the build runs."""
    return [
        shlex.split(command.split("uv sync", 1)[1])
        for run in built.everywhere("RUN")
        for command in re.split(r"&&|;|\|\|", run)
        if "uv sync" in command
    ]


def option(flags: list[str], name: str) -> str | None:
    """The value after `name` in `flags` (`--package X`), or None."""
    return flags[flags.index(name) + 1] if name in flags[:-1] else None


def dockerfiles() -> list[Path]:
    """Every Dockerfile the repository holds (tracked or new, never an ignored one)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    names = ("Dockerfile", "Containerfile")
    return sorted(
        ROOT / path
        for path in listed
        if Path(path).name.startswith(names) or path.endswith(".dockerfile")
    )


def dockerignored(path: str) -> bool:
    """Whether the root .dockerignore keeps `path` out of the build context (docker-py's
    matcher of its patterns, the file read as the Docker CLI reads it)."""
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    matcher = PatternMatcher([line for line in lines if line and not line.startswith("#")])
    return bool(matcher.matches(path))
