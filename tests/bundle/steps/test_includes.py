"""Rule 3: include globs, order, errors, and duplicate resource keys."""

from __future__ import annotations

from tests.conftest import errors, load, summaries, warnings


def test_globs_expand_sorted_and_deduplicated(bundle_dir) -> None:
    root = bundle_dir({
        "databricks.yml": """
            bundle: {name: x}
            include:
              - resources/b.yml
              - resources/*.yml
              - ./resources/a.yml
        """,
        "resources/a.yml": "resources: {jobs: {a: {name: A, description: from a}}}",
        "resources/b.yml": "resources: {jobs: {b: {name: B}}}",
        "resources/c.yaml": "resources: {jobs: {c: {name: C}}}",
    })
    r = load(root)
    assert r.ok, r.diagnostics
    jobs = r.plain()["resources"]["jobs"]
    # declared order (b first), then the glob's sorted matches, each file once
    assert list(jobs) == ["b", "a"]
    assert "c" not in jobs


def test_json_files_can_be_included(bundle_dir) -> None:
    root = bundle_dir({
        "databricks.yml": "bundle: {name: x}\ninclude: [extra.json]\n",
        "extra.json": '{"resources": {"experiments": {"e": {"name": "/Shared/e"}}}}',
    })
    r = load(root)
    assert r.ok and r.plain()["resources"]["experiments"]["e"]["name"] == "/Shared/e"


def test_non_yaml_match_is_an_error(bundle_dir) -> None:
    root = bundle_dir({
        "databricks.yml": "bundle: {name: x}\ninclude: ['conf/*']\n",
        "conf/a.yml": "resources: {}",
        "conf/notes.txt": "hello",
    })
    r = load(root)
    assert summaries(errors(r)) == [
        "Files in the 'include' configuration section must be YAML or JSON files."]
    assert "conf/notes.txt" in errors(r)[0].detail
    assert errors(r)[0].locations[0].line == 2


def test_absolute_include_is_an_error(bundle_dir) -> None:
    root = bundle_dir({"databricks.yml": "bundle: {name: x}\ninclude: [/etc/passwd]\n"})
    assert summaries(errors(load(root))) == [
        "include path must be relative to the bundle root: /etc/passwd"]


def test_literal_path_that_matches_nothing_is_an_error(bundle_dir) -> None:
    root = bundle_dir({"databricks.yml": "bundle: {name: x}\ninclude: [missing.yml, 'none/*.yml']\n"})
    r = load(root)
    # the glob that matches nothing is fine; the literal path is not
    assert summaries(errors(r)) == ["missing.yml defined in 'include' section does not match any files"]


def test_include_outside_root_file_is_a_warning(bundle_dir) -> None:
    root = bundle_dir({
        "databricks.yml": "bundle: {name: x}\ninclude: [a.yml]\n",
        "a.yml": "include: [b.yml]\nresources: {jobs: {a: {name: A}}}\n",
        "b.yml": "resources: {jobs: {b: {name: B}}}\n",
    })
    r = load(root)
    assert r.ok
    assert summaries(warnings(r)) == ["Include section is defined outside root file"]
    assert warnings(r)[0].locations[0].file == "a.yml"
    assert "b" not in r.plain()["resources"]["jobs"]


def test_same_resource_key_in_two_files_names_both(bundle_dir) -> None:
    root = bundle_dir({
        "databricks.yml": "bundle: {name: x}\ninclude: ['*.yml']\nresources: {jobs: {dup: {name: A}}}\n",
        "more.yml": "resources:\n  pipelines:\n    dup: {name: B}\n",
    })
    r = load(root)
    (err,) = errors(r)
    assert err.summary == "multiple resources have been defined with the same key: dup"
    assert {loc.file for loc in err.locations} == {"databricks.yml", "more.yml"}


def test_root_file_matched_by_glob_is_not_loaded_twice(bundle_dir) -> None:
    root = bundle_dir({"databricks.yml": "bundle: {name: x}\ninclude: ['*.yml']\n"
                                         "resources: {jobs: {a: {name: A}}}\n"})
    assert load(root).ok


def test_glob_characters_in_the_root_path_are_refused(tmp_path) -> None:
    root = tmp_path / "proj[1]"
    root.mkdir()
    (root / "databricks.yml").write_text("bundle: {name: x}\ninclude: ['*.yml']\n")
    r = load(root)
    assert summaries(errors(r)) == ["Bundle root path contains glob pattern characters"]
    assert "'['" in errors(r)[0].detail
