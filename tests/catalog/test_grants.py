"""Unity Catalog privileges, enforced by the catalog service for whoever acts: what each
user may see, read, write and grant, through inheritance, groups and ownership."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kiln.catalog import Catalog
from kiln.catalog.grants import Grants
from kiln.errors import KilnError, NotFound, PermissionDenied
from kiln.identity import Identities
from kiln.workspace.local import WorkspaceHome

ROWS = pd.DataFrame({"id": [1, 2], "amount": [10.0, 20.0]})


@pytest.fixture
def ws(tmp_path: Path):
    admin = WorkspaceHome(str(tmp_path)).open("shared", "admin@x.com")
    ids = Identities(admin)
    for user in ("admin@x.com", "alice@x.com", "bob@x.com"):
        ids.add(user, "USER")
    ids.add("analysts", "GROUP")
    ids.set_membership("analysts", "bob@x.com", True)
    ids.set_membership("admins", "admin@x.com", True)
    cat = Catalog(admin)
    cat.create_catalog("main")
    for schema in ("sales", "hr"):
        cat.create_schema("main", schema)
    cat.write("main.sales.orders", ROWS)
    cat.write("main.hr.salaries", ROWS)
    yield admin
    admin.close()


def grant(ws, kind: str, name: str, principal: str, *privileges: str) -> None:
    Grants(ws).update(kind, name, [{"principal": principal, "add": list(privileges)}])


def test_without_grants_a_user_sees_nothing_and_is_told_what_is_missing(ws) -> None:
    alice = Catalog(ws.as_user("alice@x.com"))
    assert alice.catalog_names() == [] and alice.list_tables("main.sales") == []
    with pytest.raises(PermissionDenied, match="User alice@x.com does not have USE CATALOG "
                                               "on Catalog 'main'"):
        alice.read("main.sales.orders")
    grant(ws, "catalog", "main", "alice@x.com", "USE_CATALOG")
    assert alice.catalog_names() == ["main"] and alice.schema_names("main") == []
    with pytest.raises(PermissionDenied, match="USE SCHEMA on Schema 'main.sales'"):
        alice.read("main.sales.orders")
    grant(ws, "schema", "main.sales", "alice@x.com", "USE_SCHEMA", "SELECT")
    assert alice.schema_names("main") == ["sales"]
    assert alice.read("main.sales.orders")["amount"].sum() == 30.0
    assert alice.list_tables("main.sales") == ["main.sales.orders"]
    assert alice.list_tables() == ["main.sales.orders"]  # not main.hr's
    with pytest.raises(PermissionDenied, match="does not have MODIFY on Table "
                                               "'main.sales.orders'"):
        alice.write("main.sales.orders", ROWS)
    with pytest.raises(PermissionDenied, match="CREATE TABLE on Schema 'main.sales'"):
        alice.write("main.sales.new", ROWS)
    with pytest.raises(PermissionDenied, match="USE SCHEMA on Schema 'main.hr'"):
        alice.sql("SELECT count(*) FROM main.hr.salaries")  # SQL reads are checked too
    assert alice.sql("SELECT sum(amount) AS s FROM main.sales.orders").to_pylist() == [{"s": 30.0}]
    assert Catalog(ws).read("main.hr.salaries").shape == (2, 2)  # the admin sees all


def test_group_grants_inherit_down_and_owners_hold_what_they_create(ws) -> None:
    bob = Catalog(ws.as_user("bob@x.com"))
    grant(ws, "catalog", "main", "analysts", "USE_CATALOG")
    grant(ws, "schema", "main.hr", "analysts", "ALL_PRIVILEGES")
    assert bob.list_tables() == ["main.hr.salaries"]
    bob.write("main.hr.salaries", ROWS)  # MODIFY, inherited from the schema
    bob.write("main.hr.bonuses", ROWS)  # CREATE_TABLE on the schema: bob owns the new table
    with pytest.raises(PermissionDenied, match="MANAGE on Table 'main.hr.salaries'"):
        bob.drop("main.hr.salaries")  # ALL_PRIVILEGES is not MANAGE
    Grants(ws.as_user("bob@x.com")).update("table", "main.hr.bonuses", [
        {"principal": "alice@x.com", "add": ["SELECT"]}])  # an owner grants on what is his
    bob.drop("main.hr.bonuses")
    # leaving the group takes its privileges away
    Identities(ws).set_membership("analysts", "bob@x.com", False)
    assert Catalog(ws.as_user("bob@x.com")).list_tables() == []


def test_effective_grants_say_where_they_come_from(ws) -> None:
    grant(ws, "catalog", "main", "analysts", "USE_CATALOG")
    grant(ws, "table", "main.hr.salaries", "analysts", "SELECT")
    assert Grants(ws).effective("table", "main.hr.salaries") == [{
        "principal": "analysts", "privileges": [
            {"privilege": "SELECT"},
            {"privilege": "USE_CATALOG", "inherited_from_type": "CATALOG",
             "inherited_from_name": "main"}]}]
    assert Grants(ws).get("table", "main.hr.salaries") == [
        {"principal": "analysts", "privileges": ["SELECT"]}]


def test_only_owners_admins_and_managers_change_grants(ws) -> None:
    alice = ws.as_user("alice@x.com")
    with pytest.raises(PermissionDenied, match="MANAGE on Schema 'main.sales'"):
        grant(alice, "schema", "main.sales", "alice@x.com", "SELECT")
    grant(ws, "schema", "main.sales", "alice@x.com", "MANAGE")
    grant(alice, "schema", "main.sales", "bob@x.com", "SELECT")
    grant(ws, "catalog", "main", "alice@x.com", "USE_CATALOG", "CREATE_SCHEMA")
    Catalog(alice).create_schema("main", "mine")  # alice owns it, and all it will hold
    Catalog(alice).write("main.mine.t", ROWS)
    with pytest.raises(PermissionDenied):
        grant(ws.as_user("bob@x.com"), "schema", "main.mine", "bob@x.com", "SELECT")
    with pytest.raises(PermissionDenied, match="only workspace admins may create catalogs"):
        Catalog(alice).create_catalog("other")


def test_bad_grants_are_refused_whole(ws) -> None:
    with pytest.raises(NotFound, match="Volume 'main.sales.v' does not exist"):
        Grants(ws).update("volume", "main.sales.v", [])
    with pytest.raises(NotFound, match="Could not find principal with name carol"):
        Grants(ws).update("schema", "main.sales", [
            {"principal": "alice@x.com", "add": ["SELECT"]},
            {"principal": "carol@x.com", "add": ["SELECT"]}])
    with pytest.raises(KilnError, match="Privilege CREATE_SCHEMA is not applicable"):
        Grants(ws).update("table", "main.sales.orders", [
            {"principal": "alice@x.com", "add": ["CREATE_SCHEMA"]}])
    assert Grants(ws).get("schema", "main.sales") == []  # nothing half-done


def test_a_deleted_principal_loses_its_grants(ws) -> None:
    grant(ws, "schema", "main.sales", "alice@x.com", "SELECT")
    Identities(ws).delete("alice@x.com")
    assert Grants(ws).get("schema", "main.sales") == []


def test_a_workspace_without_admins_lets_everyone_do_everything(tmp_path: Path) -> None:
    ws = WorkspaceHome(str(tmp_path)).open("laptop", "me@x.com")
    Catalog(ws).create_catalog("main")
    Catalog(ws).create_schema("main", "s")
    Catalog(ws).write("main.s.t", ROWS)
    other = Catalog(ws.as_user("someone@x.com"))
    assert other.list_tables() == ["main.s.t"]
    other.write("main.s.t", ROWS)
    ws.close()


def test_volume_paths_need_volume_privileges(ws) -> None:
    Catalog(ws).create_volume("main", "sales", "raw")
    alice = Catalog(ws.as_user("alice@x.com"))
    grant(ws, "catalog", "main", "alice@x.com", "USE_CATALOG")
    grant(ws, "schema", "main.sales", "alice@x.com", "USE_SCHEMA")
    with pytest.raises(PermissionDenied, match="READ VOLUME on Volume 'main.sales.raw'"):
        alice.require_path("/Volumes/main/sales/raw/a.csv", write=False)
    grant(ws, "volume", "main.sales.raw", "alice@x.com", "READ_VOLUME")
    alice.require_path("/Volumes/main/sales/raw/a.csv", write=False)
    with pytest.raises(PermissionDenied, match="WRITE VOLUME"):
        alice.require_path("/Volumes/main/sales/raw/a.csv", write=True)
    assert alice.volumes() == ["main.sales.raw"]
    alice.require_path("/Workspace/Users/alice@x.com/x", write=True)  # not the catalog's
