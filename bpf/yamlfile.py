"""YAML loading that remembers on which line every key and list item stood.

Aliases (`*name`) are refused where they are met, before anything is built: a few kilobytes of
aliases of aliases expand to billions of values (the "billion laughs"), and neither the
bundled stages.yaml nor the documentation uses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, SequenceNode


class LineDict(dict[Any, Any]):
    line: int
    key_lines: dict[Any, int]


class LineList(list[Any]):
    line: int
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    def compose_node(self, parent: Node | None, index: Any) -> Node | None:  # type: ignore[override]
        if self.check_event(AliasEvent):  # type: ignore[no-untyped-call]
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(
                None,
                None,
                f"alias *{event.anchor}: aliases are not allowed here; write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)  # type: ignore[no-any-return, no-untyped-call]

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> LineDict:  # type: ignore[override]
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.MarkedYAMLError(
                    f"key {key!r} first given on line {seen[key]}",
                    None,
                    f"duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        result = LineDict(super().construct_mapping(node, deep=True))
        result.line = node.start_mark.line + 1
        result.key_lines = seen
        return result

    def construct_sequence(self, node: SequenceNode, deep: bool = False) -> LineList:  # type: ignore[override]
        result = LineList(super().construct_sequence(node, deep=True))
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _Loader.construct_sequence)


class YamlSyntaxError(ValueError):
    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.message = message


def load(text: str) -> Any:
    """Parse YAML text; mappings and sequences come back as LineDict and LineList."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise YamlSyntaxError(line, column, message or "invalid YAML") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, 1, str(exc)) from None
    except RecursionError:
        raise YamlSyntaxError(1, 1, "the YAML nests too deeply") from None


def line_of(tree: Any, path: Sequence[Any]) -> int:
    """The line of the deepest element of `path` that the tree knows a line for."""
    line = getattr(tree, "line", 1)
    node = tree
    for part in path:
        if isinstance(node, LineDict) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
    return line
