"""Python functions in the catalog (CREATE FUNCTION ... LANGUAGE PYTHON) and the
on-demand features FeatureFunction computes with them."""

from __future__ import annotations

import pandas as pd
import pytest

from kiln.catalog import Catalog
from kiln.catalog.functions import Functions, parse
from kiln.errors import AlreadyExists, KilnError, PermissionDenied
from kiln.features.client import FeatureFunction, FeatureLookup
from tests.features.conftest import make_tables

RATIO = """CREATE FUNCTION main.fs.ratio(a DOUBLE, b DOUBLE)
RETURNS DOUBLE LANGUAGE PYTHON COMMENT 'a over b'
AS $$
if not b:
    return None
return a / b
$$"""


def test_a_python_function_is_parsed_as_unity_catalog_keeps_it() -> None:
    f = parse(RATIO)
    assert (f["full_name"], f["data_type"], f["comment"]) == ("main.fs.ratio", "DOUBLE",
                                                              "a over b")
    assert [p["name"] for p in f["input_params"]] == ["a", "b"]
    for bad, said in (("CREATE FUNCTION f(a DOUBLE) RETURNS DOUBLE LANGUAGE SQL RETURN a",
                       "kiln creates Python functions only"),
                      (RATIO.replace("a DOUBLE", "a WIDGET"), "parameter 'a WIDGET'"),
                      (RATIO.replace("return a / b", "return a /"), "its body is not Python")):
        with pytest.raises(KilnError, match=said):
            parse(bad)


def test_functions_are_created_listed_replaced_and_checked(fe) -> None:  # type: ignore[no-untyped-def]
    client, ws = fe
    Catalog(ws).sql(RATIO)  # kiln sql runs CREATE FUNCTION too
    funcs = Functions(ws)
    assert [f["full_name"] for f in funcs.list("main.fs")] == ["main.fs.ratio"]
    assert funcs.callable("main.fs.ratio")(6.0, 3.0) == 2.0
    with pytest.raises(AlreadyExists, match="CREATE OR REPLACE"):
        funcs.create(RATIO)
    funcs.create(RATIO.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
                 .replace("return a / b", "return 2 * a / b"))
    assert funcs.callable("main.fs.ratio")(6.0, 3.0) == 4.0
    from kiln.identity import Identities

    ids = Identities(ws)
    for user in ("alice@example.com", "bob@example.com"):
        ids.add(user, "USER")
    ids.set_membership("admins", "alice@example.com", True)
    with pytest.raises(PermissionDenied):  # bob: no EXECUTE (nor USE_CATALOG)
        Functions(ws.as_user("bob@example.com")).get("main.fs.ratio")


def test_a_feature_function_computes_an_on_demand_feature(fe) -> None:  # type: ignore[no-untyped-def]
    client, ws = fe
    make_tables(client)
    Catalog(ws).sql(RATIO)
    labels = pd.DataFrame({"customer_id": [1, 2], "budget": [20.0, 0.0], "y": [0, 1]})
    ts = client.create_training_set(df=labels, label="y", feature_lookups=[
        FeatureLookup("main.fs.customers", "customer_id", feature_names=["age"]),
        FeatureFunction(udf_name="main.fs.ratio", input_bindings={"a": "age", "b": "budget"},
                        output_name="age_per_budget")])
    got = ts.load_df()
    assert got["age_per_budget"].tolist()[0] == 31 / 20 and pd.isna(got["age_per_budget"][1])
    with pytest.raises(KilnError, match="takes column 'cash'"):
        client.create_training_set(df=labels, label="y", feature_lookups=[FeatureFunction(
            udf_name="main.fs.ratio", input_bindings={"a": "budget", "b": "cash"})])
