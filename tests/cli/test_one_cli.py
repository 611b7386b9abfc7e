"""One CLI: the same flag means the same thing on every command. Walks the whole command
tree, so a new command cannot forget them."""

from __future__ import annotations

import click
import pytest

from kiln.cli.main import cli


def commands(cmd: click.Command = cli, path: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from commands(sub, path + (name,))
    else:
        yield " ".join(path), cmd


def flags(cmd: click.Command) -> dict[str, click.Option]:
    return {f: p for p in cmd.params if isinstance(p, click.Option) for f in p.opts}


ALL = list(commands())


def test_the_tree_is_walked() -> None:
    names = {n for n, _ in ALL}
    assert {"jobs list", "runs get", "sql", "tables list", "auth login", "auth profiles",
            "auth token", "clusters get", "bundle deploy"} <= names


@pytest.mark.parametrize("name,cmd", ALL, ids=[n for n, _ in ALL])
def test_workspace_commands_take_target_workspace_and_profile(name: str, cmd) -> None:
    f = flags(cmd)
    if "-w" in f or "-t" in f:
        assert {"-t", "-p"} <= set(f), f"{name} lacks -t/-p"
        assert f["-p"].opts == ["-p", "--profile"] and f["-t"].opts == ["-t", "--target"]
        if not name.startswith("bundle "):  # a bundle command's workspace is its target's
            assert f["-w"].opts == ["-w", "--workspace"], f"{name} lacks -w"


@pytest.mark.parametrize("name,cmd", ALL, ids=[n for n, _ in ALL])
def test_every_list_and_get_has_json_output(name: str, cmd) -> None:
    last = name.split()[-1]
    if last in ("list", "get") or last.startswith("list-"):
        f = flags(cmd)
        assert "-o" in f, f"{name} lacks -o"
        assert "json" in f["-o"].type.choices and f["-o"].opts == ["-o", "--output"]
