"""Reading an org file: YAML composed into nodes, so every key keeps its line, and every plain
scalar kept as the text people typed. The schema then reads numbers and on/off from that text, so
YAML 1.1's surprises stay out: `time: 18:00` is the time, not the sexagesimal number 1080, `NO` is
Norway's phone region, not false, and a chat id of digits keeps its leading signs and zeros."""
from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.services.core.validation import Path, SettingsError, dotted

_NULL = "tag:yaml.org,2002:null"


class TextLoader(yaml.SafeLoader):
    """A SafeLoader whose only implicit type is null (`~`, `null`, nothing): all else is text."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag == _NULL]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


@dataclass
class Parsed:
    """The file's data, and the 1-based line of each key and list item by its path."""

    data: object
    lines: dict[Path, int] = field(default_factory=dict)

    def locate(self, path: Path) -> int | None:
        """The line of the key at `path`, or of the nearest enclosing key the file has."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


def parse(text: str, source: str) -> Parsed:
    """The org file's text as data with its lines; SettingsError (not_yaml) naming the line when
    the text is not YAML."""
    try:
        node = yaml.compose(text, Loader=TextLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SettingsError("not_yaml", "", line=mark.line + 1 if mark else None, source=source,
                            reason=reason) from None
    parsed = Parsed(None)
    if node is not None:
        parsed.lines[()] = node.start_mark.line + 1
        parsed.data = _value(node, (), parsed.lines, source)
    return parsed


def _value(node: Node, path: Path, lines: dict[Path, int], source: str) -> object:
    if isinstance(node, MappingNode):
        return _mapping(node, path, lines, source)
    if isinstance(node, SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            items.append(_value(item, (*path, index), lines, source))
        return items
    assert isinstance(node, ScalarNode)
    return None if node.tag == _NULL else node.value


def _mapping(node: MappingNode, path: Path, lines: dict[Path, int], source: str) -> dict:
    result: dict = {}
    for key_node, value_node in node.value:
        key = _value(key_node, path, {}, source)
        if not isinstance(key, str):
            raise SettingsError("not_text", dotted(path), line=key_node.start_mark.line + 1,
                                source=source)
        child = (*path, key)
        if key in result:
            raise SettingsError("duplicate", dotted(child), value=key, line=key_node.start_mark.line + 1, source=source)
        lines[child] = key_node.start_mark.line + 1
        result[key] = _value(value_node, child, lines, source)
    return result
