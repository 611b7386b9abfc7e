"""``kiln users``, ``kiln groups``, ``kiln service-principals`` and ``kiln grants``: who
is in a workspace and what they may do in its catalog, as the Databricks CLI's commands
of those names have it."""

from __future__ import annotations

import json

import click

from kiln.cli.render import document_opt, echo, output_opt, print_json, print_rows
from kiln.cli.workspaces import open_workspace, ws_opt
from kiln.errors import UsageError


def _ids(workspace: str | None):  # type: ignore[no-untyped-def]
    from kiln.identity import Identities

    return Identities(open_workspace(workspace))


def _principal_group(name: str, kind: str, what: str) -> click.Group:
    @click.group(name=name, help=f"{what.capitalize()}s of a workspace.")
    def group() -> None:
        pass

    @group.command(name="list")
    @ws_opt
    @output_opt
    def list_cmd(workspace: str | None, output: str) -> None:
        rows = [{"name": p["name"], "display_name": p["display_name"] or ""}
                for p in _ids(workspace).list(kind)]
        print_rows(output, name.replace("-", "_"), rows, empty=f"No {what}s",
                   header=f"{'NAME':40} DISPLAY NAME",
                   line=lambda r: f"{r['name']:40} {r['display_name']}")

    @group.command(name="create")
    @click.argument("principal")
    @click.option("--display-name", default=None)
    @ws_opt
    def create_cmd(principal: str, display_name: str | None, workspace: str | None) -> None:
        _ids(workspace).add(principal, kind, display_name)
        echo(f"Created {what} {principal}")

    @group.command(name="delete")
    @click.argument("principal")
    @ws_opt
    def delete_cmd(principal: str, workspace: str | None) -> None:
        _ids(workspace).delete(principal)
        echo(f"Deleted {what} {principal} (its memberships and grants too)")

    @group.command(name="get")
    @click.argument("principal")
    @ws_opt
    @document_opt
    def get_cmd(principal: str, workspace: str | None) -> None:
        print_json(_ids(workspace).get(principal), sort_keys=False)

    list_cmd.help = f"List the {what}s."
    create_cmd.help = f"Add a {what}."
    delete_cmd.help = f"Remove a {what}, its memberships and its grants."
    get_cmd.help = (f"Show a {what} and its members." if kind == "GROUP"
                    else f"Show a {what} and the groups it is in.")
    return group


users = _principal_group("users", "USER", "user")
service_principals = _principal_group("service-principals", "SERVICE_PRINCIPAL",
                                      "service principal")
groups = _principal_group("groups", "GROUP", "group")


@groups.command(name="add-member")
@click.argument("group")
@click.argument("member")
@ws_opt
def add_member(group: str, member: str, workspace: str | None) -> None:
    """Add a user, service principal or group to a group (``admins`` makes an admin)."""
    _ids(workspace).set_membership(group, member, True)
    echo(f"Added {member} to {group}")


@groups.command(name="remove-member")
@click.argument("group")
@click.argument("member")
@ws_opt
def remove_member(group: str, member: str, workspace: str | None) -> None:
    """Remove a member from a group."""
    _ids(workspace).set_membership(group, member, False)
    echo(f"Removed {member} from {group}")


@click.group()
def grants() -> None:
    """Unity Catalog privileges on catalogs, schemas, tables, volumes and functions
    (registered models are functions)."""


def _grants(workspace: str | None):  # type: ignore[no-untyped-def]
    from kiln.catalog.grants import Grants

    return Grants(open_workspace(workspace))


_securable = click.argument("securable_type")


def _grants_reader(name: str, effective: bool, doc: str):  # type: ignore[no-untyped-def]
    @grants.command(name=name, help=doc)
    @_securable
    @click.argument("full_name")
    @click.option("--principal", default=None, help="Only this principal's privileges.")
    @ws_opt
    @document_opt
    def read(securable_type: str, full_name: str, principal: str | None,
             workspace: str | None) -> None:
        from kiln.catalog.grants import securable_type as kind

        g = _grants(workspace)
        found = (g.effective if effective else g.get)(kind(securable_type), full_name,
                                                      principal)
        print_json({"privilege_assignments": found}, sort_keys=False)

    return read


get_cmd = _grants_reader("get", False, "The privileges granted on a securable (JSON, as "
                         "the REST API answers).")
get_effective = _grants_reader("get-effective", True, "The privileges that hold on a "
                               "securable, with those inherited from its containers.")


@grants.command(name="update")
@_securable
@click.argument("full_name")
@click.option("--json", "doc", required=True,
              help='{"changes": [{"principal": "...", "add": [...], "remove": [...]}]}')
@ws_opt
def update_cmd(securable_type: str, full_name: str, doc: str, workspace: str | None) -> None:
    """Grant and revoke privileges (the --json document of 'databricks grants update')."""
    from kiln.catalog.grants import securable_type as kind

    try:
        changes = json.loads(doc).get("changes")
    except (ValueError, AttributeError):
        raise UsageError('--json must be {"changes": [...]}') from None
    if not isinstance(changes, list):
        raise UsageError('--json must be {"changes": [...]}')
    print_json({"privilege_assignments": _grants(workspace).update(
        kind(securable_type), full_name, changes)}, sort_keys=False)
