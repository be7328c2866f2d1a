"""Bounded readers for hostile input: bytes with a size cap, UTF-8 checked, YAML built from
libyaml's event stream, RDF/XML and JSON-LD checked on their parsed structure before
pyoxigraph sees them. Each raises the InputError subclass it is given, with one Problem that
names the file (never a path on this machine) and echoes at most `Limits.echo_chars` of input.

YAML, why events: `yaml.CSafeLoader` parses in C but composes and constructs in Python
(resolver, node objects, constructor), 10x the parse itself, and its composer recurses. Here
the C parser's events are turned into values in one loop that also checks every bound
before the value it guards is built: nesting depth, the number of values with aliases
expanded, duplicate keys (with their line), tags. Dates stay text, so a bad date is the
checker's error with entry and key. The pure-Python parser gives the same events and is
used only when PyYAML was built without libyaml.

YAML anchors and aliases are accepted and bounded rather than refused: PyYAML's own dumper
writes them for any list or mapping that appears twice (`yaml.safe_dump` of a register
built in code), so refusing them would refuse registers tools write. An alias does not copy
its value (the loaded structure shares it), but everything downstream walks the tree as if
expanded, which is where a 371-byte "billion laughs" becomes gigabytes. So each alias counts
as the full number of values its anchor stands for, and the document is refused once that
count passes `Limits.max_values`; the count is arithmetic, so a bomb is refused after
reading a few hundred bytes. An alias inside the collection it names (a recursive
structure) is refused outright, and so are YAML 1.1 merge keys (`<<`), which the strict
loader never supported.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any
from xml.parsers import expat

import yaml
from yaml.events import (AliasEvent, DocumentStartEvent, MappingEndEvent, MappingStartEvent, ScalarEvent,
                         SequenceEndEvent, SequenceStartEvent)

from .errors import InputError, Problem
from .limits import MiB, Limits, shorten

YAML_PARSER = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader

# --- bytes and text ----------------------------------------------------------------------------


def _size(n: int) -> str:
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n:,} bytes"


def too_big(file: str, size: int, limits: Limits) -> Problem:
    return Problem(file, "", "", f"is {_size(size)}, more than the {_size(limits.max_bytes)} "
                                 "this loader accepts")


def read_bytes(path: Path, limits: Limits, error: type[InputError], budget: int | None = None) -> bytes:
    """The file's bytes, refused before reading when larger than `budget` (default
    `limits.max_bytes`). OS errors name the file and the reason, not the path."""
    budget = limits.max_bytes if budget is None else budget
    try:
        size = path.stat().st_size
        if size > budget:
            raise error(too_big(path.name, size, limits))
        with path.open("rb") as fh:
            data = fh.read(budget + 1)  # the file may have grown since stat
    except OSError as exc:
        raise error(Problem(path.name, "", "", f"cannot read file: {exc.strerror or type(exc).__name__}")) from None
    if len(data) > budget:
        raise error(too_big(path.name, len(data), limits))
    return data


def _utf8_problem(file: str, data: bytes, exc: UnicodeDecodeError, offset: int = 0) -> Problem:
    at = offset + exc.start
    line = data.count(b"\n", 0, at) + 1
    column = at - (data.rfind(b"\n", 0, at) + 1) + 1
    return Problem(file, "", "", f"is not UTF-8 text: byte 0x{data[at]:02x} at line {line}, column {column} "
                                 "cannot be decoded (save the file as UTF-8)")


def decode_utf8(data: bytes, file: str, error: type[InputError]) -> str:
    """Text of UTF-8 bytes (a leading byte order mark is dropped)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bom = 3 if data.startswith(codecs.BOM_UTF8) else 0
        raise error(_utf8_problem(file, data, exc, bom if exc.object is not data else 0)) from None


def check_utf8(data: bytes, file: str, error: type[InputError], chunk: int = 4 * MiB) -> None:
    """Raise unless `data` is UTF-8, without keeping a decoded copy of a large file."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    view = memoryview(data)
    for start in range(0, len(data), chunk):
        try:
            decoder.decode(view[start:start + chunk], final=start + chunk >= len(data))
        except UnicodeDecodeError as exc:
            # the decoder's offset counts from the chunk, less what it carried over from the last
            carried = len(exc.object) - len(view[start:start + chunk])
            raise error(_utf8_problem(file, data, exc, start - carried)) from None
    if not data:
        decoder.decode(b"", final=True)


# --- YAML ------------------------------------------------------------------------------------

_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_TIMESTAMP, _MERGE = "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:merge"
# SafeLoader's implicit types by first character, less timestamps (dates stay text) and the
# `=` value key (no constructor: text). Null, bool, int, float and merge remain.
_RESOLVERS: dict[str, list] = {}
for _ch, _rs in yaml.SafeLoader.yaml_implicit_resolvers.items():
    _kept = [(t, rx) for t, rx in _rs if t not in (_TIMESTAMP, "tag:yaml.org,2002:value")]
    if _kept:
        _RESOLVERS[_ch] = _kept
_CONSTRUCT = yaml.constructor.SafeConstructor()
_SCALAR_TAGS = {
    "tag:yaml.org,2002:null": lambda node: None,
    "tag:yaml.org,2002:bool": _CONSTRUCT.construct_yaml_bool,
    "tag:yaml.org,2002:int": _CONSTRUCT.construct_yaml_int,
    "tag:yaml.org,2002:float": _CONSTRUCT.construct_yaml_float,
    _STR: lambda node: node.value,
    _TIMESTAMP: lambda node: node.value,  # checked as a date by the register checker
}


class _YAMLProblem(Exception):
    def __init__(self, message: str, mark=None):
        super().__init__(message)
        self.message, self.mark = message, mark


def _at(mark) -> str:
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


def _scalar(tag: str, value: str, mark) -> Any:
    make = _SCALAR_TAGS.get(tag)
    if make is None:
        if tag == _MERGE:
            raise _YAMLProblem("merge keys (<<) are not supported; write the keys out", mark)
        raise _YAMLProblem(f"the tag '{shorten(tag)}' is not allowed in a register", mark)
    try:
        return make(yaml.ScalarNode(tag, value))
    except (ValueError, KeyError, TypeError):
        raise _YAMLProblem(f"'{shorten(value)}' is not a valid {tag.rsplit(':', 1)[-1]}", mark) from None


def _plain(value: str, mark) -> Any:
    for tag, rx in _RESOLVERS.get(value[:1], ()):
        if rx.match(value):
            return _scalar(tag, value, mark)
    return value


_NO_KEY = object()  # the current mapping waits for a key


def _build(loader, limits: Limits) -> Any:
    """Values from the loader's events, in one loop (the hot path of a large register: the
    current collection lives in local variables, its parents on `stack`)."""
    get_event = loader.get_event
    max_depth, max_values = limits.max_depth, limits.max_values
    stack: list[tuple] = []
    anchors: dict[str, tuple[Any, int]] = {}
    open_anchors: set[str] = set()
    plain_cache: dict[str, Any] = {}  # keys and closed-list values repeat: resolve each once
    count = documents = 0
    # The current collection: a one-item list holds the document itself.
    root: list = []
    value_of, is_map, key, anchor, start = root, False, _NO_KEY, None, 0
    while True:
        event = get_event()
        if event is None:
            return root[0] if root else None
        kind = event.__class__
        if kind is ScalarEvent:
            count += 1
            tag = event.tag
            if tag is None or tag == "!":
                value = event.value
                if event.implicit[0] and value[:1] in _RESOLVERS:  # most text cannot be anything but text
                    resolved = plain_cache.get(value, _NO_KEY)
                    if resolved is _NO_KEY:
                        resolved = _plain(value, event.start_mark)
                        if len(value) <= 40 and len(plain_cache) < 100_000:
                            plain_cache[value] = resolved
                    value = resolved
            else:
                value = _scalar(tag, event.value, event.start_mark)
            if event.anchor is not None:
                anchors[event.anchor] = (value, 1)
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            count += 1
            if len(stack) >= max_depth:
                raise _YAMLProblem(f"nested more than {max_depth} levels deep", event.start_mark)
            opens_map = kind is MappingStartEvent
            if event.tag not in (None, "!", _MAP if opens_map else _SEQ):
                raise _YAMLProblem(f"the tag '{shorten(event.tag)}' is not allowed in a register", event.start_mark)
            if count > max_values:
                raise _YAMLProblem(f"holds more than {max_values:,} values", event.start_mark)
            stack.append((value_of, is_map, key, anchor, start))
            value_of, is_map, key, anchor, start = ({} if opens_map else []), opens_map, _NO_KEY, event.anchor, count
            if anchor is not None:
                open_anchors.add(anchor)
            continue
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            value = value_of
            if anchor is not None:
                anchors[anchor] = (value, count - start + 1)
                open_anchors.discard(anchor)
            value_of, is_map, key, anchor, start = stack.pop()
        elif kind is AliasEvent:
            name = event.anchor
            if name in open_anchors:
                raise _YAMLProblem(f"the alias *{shorten(name)} is inside the collection it names", event.start_mark)
            try:
                value, size = anchors[name]
            except KeyError:
                raise _YAMLProblem(f"found undefined alias *{shorten(name)}", event.start_mark) from None
            count += size
            if count > max_values:
                raise _YAMLProblem(f"holds more than {max_values:,} values once its aliases are "
                                   "expanded", event.start_mark)
        elif kind is DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _YAMLProblem("holds more than one YAML document (a second '---')", event.start_mark)
            continue
        else:  # stream start and end, document end
            continue

        if not is_map:
            value_of.append(value)
        elif key is _NO_KEY:
            if value.__class__ is list or value.__class__ is dict:
                raise _YAMLProblem("a mapping key must be a plain value, not a list or mapping", event.start_mark)
            if value in value_of:
                line = event.start_mark.line + 1
                raise _YAMLProblem(f"duplicate key '{shorten(str(value))}' (line {line})", event.start_mark)
            key = value
        else:
            value_of[key] = value
            key = _NO_KEY
        if count > max_values:
            raise _YAMLProblem(f"holds more than {max_values:,} values", event.start_mark)


def parse_yaml(text: str, file: str, limits: Limits, error: type[InputError]) -> Any:
    """The one YAML document in `text` as plain values (dict, list, str, int, float, bool,
    None); dates stay text. Raises `error` with one problem on anything unreadable or past a
    bound."""
    loader = YAML_PARSER(text)
    try:
        return _build(loader, limits)
    except _YAMLProblem as exc:
        raise error(Problem(file, "", "", f"not valid YAML: {exc.message}{_at(exc.mark)}")) from None
    except yaml.YAMLError as exc:
        raise error(Problem(file, "", "", f"not valid YAML: {_yaml_message(exc)}")) from None
    finally:
        loader.dispose()


def _yaml_message(exc: yaml.YAMLError) -> str:
    """A parser error without the snippet of input PyYAML quotes: problem and where, and the
    construct it was reading."""
    problem = getattr(exc, "problem", None)
    if problem is None:
        return shorten(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 200)
    text = shorten(problem, 200) + _at(getattr(exc, "problem_mark", None))
    context = getattr(exc, "context", None)
    if context:
        text += f", {shorten(context, 80)}{_at(getattr(exc, 'context_mark', None))}"
    return text


# --- RDF/XML -----------------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, message: str, key: str = ""):
        super().__init__(message)
        self.message, self.key = message, key


def check_rdf_xml(data: bytes, file: str, limits: Limits, error: type[InputError]) -> None:
    """Refuse RDF/XML that could expand or reach out, decided on the DTD as expat parses it:

    - any external entity, external DTD, parameter entity or unparsed (NDATA) entity;
    - an internal entity whose replacement text holds `&` or `<` (a reference to another
      entity or markup: the nesting that makes a billion laughs), or is longer than
      `limits.max_entity_chars`, or more than `limits.max_entities` of them;
    - elements nested deeper than `limits.max_depth` (pyoxigraph's RDF/XML parser slows down
      quadratically with depth);
    - a document whose text, with entities expanded, comes to more than `limits.max_bytes`.

    Plain abbreviations such as `<!ENTITY owl "http://www.w3.org/2002/07/owl#">`, which OWL
    tools write, load: each reference grows the text by at most `max_entity_chars`, and the
    last rule bounds the total. Expat itself never loads anything external here
    (parameter-entity parsing off, no external-entity handler)."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    state = {"depth": 0, "entities": 0, "chars": 0}

    def doctype(name, system_id, public_id, has_internal_subset):
        if system_id or public_id:
            raise _Refused("refers to an external DTD, which aimsgraph never reads; put the "
                           "declarations inline or remove the DOCTYPE", "DOCTYPE")

    def entity(name, is_parameter, value, base, system_id, public_id, notation):
        key = f"<!ENTITY {shorten(name, 40)}>"
        if is_parameter:
            raise _Refused("declares a parameter entity; aimsgraph accepts only plain internal "
                           "entities such as <!ENTITY owl \"http://www.w3.org/2002/07/owl#\">", key)
        if value is None:  # SYSTEM/PUBLIC or NDATA
            raise _Refused("declares an external entity, which aimsgraph never reads", key)
        if "&" in value or "<" in value:
            raise _Refused("declares an entity whose text holds another entity or markup; "
                           "aimsgraph accepts only plain text entities (no nesting)", key)
        if len(value) > limits.max_entity_chars:
            raise _Refused(f"declares an entity of {len(value):,} characters, more than the "
                           f"{limits.max_entity_chars:,} allowed", key)
        state["entities"] += 1
        if state["entities"] > limits.max_entities:
            raise _Refused(f"declares more than {limits.max_entities} entities", "DOCTYPE")

    def start(name, attributes):
        state["depth"] += 1
        if state["depth"] > limits.max_depth:
            raise _Refused(f"has elements nested more than {limits.max_depth} levels deep "
                           f"(line {parser.CurrentLineNumber})")
        if state["entities"]:
            state["chars"] += sum(len(k) + len(v) for k, v in attributes.items())
            if state["chars"] > limits.max_bytes:
                raise _Refused(_expanded(limits))

    def end(name):
        state["depth"] -= 1

    def text(data):
        state["chars"] += len(data)
        if state["chars"] > limits.max_bytes:
            raise _Refused(_expanded(limits))

    def refuse_external(*args):
        raise _Refused("refers to an external entity, which aimsgraph never reads")

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.ExternalEntityRefHandler = refuse_external

    def first_element(name, attributes):  # text is counted only when entities can grow it
        if state["entities"]:
            parser.CharacterDataHandler = text
        parser.StartElementHandler = start
        start(name, attributes)

    parser.StartElementHandler = first_element
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise error(Problem(file, "", exc.key, exc.message)) from None
    except expat.ExpatError as exc:
        raise error(Problem(file, "", "", f"cannot parse xml: {expat.ErrorString(exc.code)} "
                                          f"(line {exc.lineno}, column {exc.offset + 1})")) from None


def _expanded(limits: Limits) -> str:
    return f"comes to more than {_size(limits.max_bytes)} of text once its entities are expanded"


# --- JSON-LD -----------------------------------------------------------------------------------


def json_ld_document(data: bytes, file: str, limits: Limits, error: type[InputError]) -> tuple[Any, list[str]]:
    """The parsed JSON-LD document and the IRIs it would fetch (string values of `@context`,
    or items of a `@context` list, and of `@import`, anywhere), refusing nesting deeper than
    `limits.max_depth` before pyoxigraph's parser (which recurses) sees it."""
    text = decode_utf8(data, file, error)
    try:
        doc = json.loads(text)
    except RecursionError:
        raise error(Problem(file, "", "", f"cannot parse json-ld: nested more than {limits.max_depth} "
                                          "levels deep")) from None
    except json.JSONDecodeError as exc:
        raise error(Problem(file, "", "", f"cannot parse json-ld: {exc.msg} (line {exc.lineno}, "
                                          f"column {exc.colno})")) from None
    remote: list[str] = []
    todo: list[tuple[Any, int]] = [(doc, 1)]
    while todo:  # iterative: a deep document cannot exhaust the Python stack here
        node, depth = todo.pop()
        if depth > limits.max_depth:
            raise error(Problem(file, "", "", f"cannot parse json-ld: nested more than {limits.max_depth} "
                                              "levels deep"))
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("@context", "@import"):
                    remote.extend(item for item in (value if isinstance(value, list) else [value])
                                  if isinstance(item, str))
            children = [value for value in node.values() if isinstance(value, (dict, list))]
        elif isinstance(node, list):
            children = [item for item in node if isinstance(item, (dict, list))]
        else:
            continue
        todo.extend((child, depth + 1) for child in reversed(children))  # document order
    return doc, remote
