"""Turning command-line flags and the environment into a bundle ``LoadContext``."""

from __future__ import annotations

from kiln.bundle import LoadContext
from kiln.errors import UsageError
from kiln.profiles import all_profiles
from kiln.settings import Settings


def parse_vars(pairs: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f'unexpected flag value for variable assignment: "{pair}"',
                             detail='Use --var name=value, for example --var catalog=dev.')
        out.append((name, value))
    return tuple(out)


def load_context(target: str | None, var: tuple[str, ...], settings: Settings | None = None
                 ) -> LoadContext:
    import click

    s = settings or Settings.from_env()
    ctx = click.get_current_context(silent=True)
    return LoadContext(
        profile=(ctx.meta.get("kiln.profile") if ctx is not None else None),
        target=target or s.bundle_target,
        cli_vars=parse_vars(var),
        env=s.env,
        profiles=all_profiles(s.config_file, s.databricks_config_file),
        default_user=s.user,
        profiles_file=s.config_file,
    )
