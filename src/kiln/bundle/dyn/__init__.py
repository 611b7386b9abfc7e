"""Located values: a config tree in which every value remembers where it came from."""

from kiln.bundle.dyn.value import (
    NIL_LOC,
    Value,
    get_path,
    kind_name,
    set_path,
    to_plain,
)
from kiln.bundle.dyn.yamlload import load_yaml_file, load_yaml_text

__all__ = [
    "NIL_LOC",
    "Value",
    "get_path",
    "kind_name",
    "load_yaml_file",
    "load_yaml_text",
    "set_path",
    "to_plain",
]
