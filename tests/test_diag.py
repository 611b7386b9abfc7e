"""How diagnostics are rendered and counted, as the CLI prints them."""

from __future__ import annotations

from kiln.diag import Diagnostic, Location, Severity, has_errors, summary_line

E = Diagnostic(Severity.ERROR, "bad")
W = Diagnostic(Severity.WARNING, "odd")
R = Diagnostic(Severity.RECOMMENDATION, "consider")


def test_summary_lines() -> None:
    assert summary_line([]) == "Validation OK!"
    assert summary_line([W]) == "Found 1 warning"
    assert summary_line([E, W, W]) == "Found 1 error and 2 warnings"
    assert summary_line([E, E, W, R]) == "Found 2 errors, 1 warning, and 1 recommendation"
    assert has_errors([W, E]) and not has_errors([W, R])


def test_render_relative_locations_and_detail(tmp_path) -> None:
    d = Diagnostic(Severity.ERROR, "unknown field: x", "More words.",
                   (Location(str(tmp_path / "res" / "a.yml"), 3, 5),), (("resources", "jobs", "j", "tasks", 0),))
    assert d.render(str(tmp_path)) == ("Error: unknown field: x\n  at resources.jobs.j.tasks[0]\n"
                                       "  in res/a.yml:3:5\n\nMore words.")
