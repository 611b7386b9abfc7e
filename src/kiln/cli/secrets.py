"""``kiln secrets``: secret scopes of a workspace, as ``databricks secrets`` has them."""

from __future__ import annotations

import sys

import click

from kiln.cli.render import echo, output_opt, print_json
from kiln.cli.workspaces import open_workspace, ws_opt
from kiln.errors import UsageError


@click.group()
def secrets() -> None:
    """Secret scopes and secrets (values are never printed)."""


@secrets.command(name="create-scope")
@click.argument("scope")
@ws_opt
def create_scope(scope: str, workspace: str | None) -> None:
    """Create a secret scope."""
    open_workspace(workspace).create_scope(scope)


@secrets.command(name="delete-scope")
@click.argument("scope")
@ws_opt
def delete_scope(scope: str, workspace: str | None) -> None:
    """Delete a secret scope and its secrets."""
    open_workspace(workspace).delete_scope(scope)


@secrets.command(name="list-scopes")
@ws_opt
@output_opt
def list_scopes(workspace: str | None, output: str) -> None:
    """List the secret scopes."""
    scopes = open_workspace(workspace).list_scopes()
    if output == "json":
        print_json({"scopes": [{"name": s} for s in scopes]})
        return
    for scope in scopes:
        echo(scope)


@secrets.command(name="put-secret")
@click.argument("scope")
@click.argument("key")
@click.option("--string-value", help="The value (default: read from standard input).")
@ws_opt
def put_secret(scope: str, key: str, string_value: str | None, workspace: str | None) -> None:
    """Store a secret; the value comes from --string-value or standard input."""
    value = string_value if string_value is not None else sys.stdin.read()
    if string_value is None and value.endswith("\n"):
        value = value[:-1]
    if not value:
        raise UsageError("empty secret value: pass --string-value or pipe the value in")
    open_workspace(workspace).put_secret(scope, key, value)


@secrets.command(name="delete-secret")
@click.argument("scope")
@click.argument("key")
@ws_opt
def delete_secret(scope: str, key: str, workspace: str | None) -> None:
    """Delete a secret."""
    open_workspace(workspace).delete_secret(scope, key)


@secrets.command(name="list-secrets")
@click.argument("scope")
@ws_opt
@output_opt
def list_secrets(scope: str, workspace: str | None, output: str) -> None:
    """List the keys of a scope (never their values)."""
    keys = open_workspace(workspace).list_secrets(scope)
    if output == "json":
        print_json({"secrets": [{"key": k} for k in keys]})
        return
    for key in keys:
        echo(key)
