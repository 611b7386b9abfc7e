"""Project templates for ``kiln bundle init``.

A template is a directory here with a ``template.json`` (a description and the parameters:
name, prompt, default, and optionally ``choices`` or a ``pattern``) and a ``files/`` tree.
Every file in it ends in ``.tmpl`` and is rendered with Jinja using ``[[ name ]]`` for
values and ``[% ... %]`` for blocks (so the ``{{ ... }}`` of job parameter references and
``${...}`` of bundle variables pass through untouched); path components are rendered too.
A file that renders to nothing is not written, which is how optional parts are left out.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from kiln.errors import KilnError

HERE = Path(__file__).parent
SUFFIX = ".tmpl"


@dataclass(frozen=True)
class Parameter:
    name: str
    prompt: str
    default: str
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    pattern_message: str = ""

    def check(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise KilnError(f"{where}: {self.name} must be a string, got {json.dumps(value)}")
        if self.choices and value not in self.choices:
            raise KilnError(f"{where}: {self.name} must be one of {', '.join(self.choices)}, "
                            f"got {value!r}")
        if self.pattern and not re.match(self.pattern, value):
            raise KilnError(f"{where}: {self.name} {value!r} is not valid: "
                            f"{self.pattern_message or 'must match ' + self.pattern}")
        return value


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    parameters: tuple[Parameter, ...]
    root: Path


def available() -> list[Template]:
    return [load(p.name) for p in sorted(HERE.iterdir()) if (p / "template.json").is_file()]


def load(name: str) -> Template:
    root = HERE / name
    if not (root / "template.json").is_file():
        names = ", ".join(t.name for t in available())
        raise KilnError(f"no template named {name!r}", detail=f"Templates: {names}")
    spec = json.loads((root / "template.json").read_text())
    params = tuple(Parameter(p["name"], p["prompt"], p["default"], tuple(p.get("choices", ())),
                             p.get("pattern"), p.get("pattern_message", ""))
                   for p in spec["parameters"])
    return Template(name, spec["description"], params, root)


def read_config(path: str) -> dict[str, Any]:
    """A ``--config-file``: a JSON object of parameter values."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise KilnError(f"config file {path} does not exist") from None
    except json.JSONDecodeError as e:
        raise KilnError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None
    if not isinstance(data, dict):
        raise KilnError(f"{path}: expected a JSON object of parameter values")
    return data


def values(template: Template, config: dict[str, Any], where: str,
           ask: Callable[[Parameter], str] | None) -> dict[str, str]:
    """Every parameter's value: from ``config`` (checked), else asked (``ask``), else the
    default. Unknown keys in ``config`` are errors."""
    known = {p.name for p in template.parameters}
    unknown = sorted(set(config) - known)
    if unknown:
        raise KilnError(f"{where}: unknown parameter {unknown[0]!r} for template "
                        f"{template.name}", detail=f"Parameters: {', '.join(sorted(known))}")
    out = {}
    for p in template.parameters:
        if p.name in config:
            out[p.name] = p.check(config[p.name], where)
        elif ask is not None:
            out[p.name] = ask(p)
        else:
            out[p.name] = p.default
    return out


def render(template: Template, params: dict[str, str], output_dir: str) -> Path:
    """Write the project to ``output_dir/<project_name>``; all or nothing: the files are
    rendered into a temporary directory next to it and moved into place in one rename."""
    import jinja2

    env = jinja2.Environment(variable_start_string="[[", variable_end_string="]]",
                             block_start_string="[%", block_end_string="%]",
                             comment_start_string="[#", comment_end_string="#]",
                             keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    dest = Path(output_dir) / params.get("project_name", template.name)
    if dest.exists():
        raise KilnError(f"{dest} already exists; choose another --output-dir or project name")
    os.makedirs(output_dir, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=output_dir))
    try:
        files = template.root / "files"
        for src in sorted(files.rglob("*" + SUFFIX)):
            rel = src.relative_to(files).as_posix()[:-len(SUFFIX)]
            try:
                text = env.from_string(src.read_text(encoding="utf-8")).render(params)
                rel = env.from_string(rel).render(params)
            except jinja2.TemplateError as e:  # a broken template is kiln's bug: say where
                raise KilnError(f"template {template.name}, {rel}: {e}") from None
            if not text.strip():
                continue
            out = staging / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
            if src.stat().st_mode & 0o111:
                out.chmod(0o755)
        os.rename(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest
