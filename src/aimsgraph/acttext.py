"""Which text of the EU AI Act a run applies: the Regulation as adopted (2024) or as amended.

The texts are data in the EU AI Act catalogue (`aims:ActText` nodes with a key, a title, a source
and the date they entered into force); the dates and rules an amendment changes are
`aims:TextChange` nodes beside them. A run names the text it applies on its parameters node
(`aims:aiActText`); the rules and shapes read it from there. `auto`, the default, is the latest
text in force at the as-of date that the shipped catalogue knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from rdflib import URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, SKOS

from .errors import InputError
from .namespaces import AIMS, GRAPH_PARAMETERS

CHOICES = ("auto", "original", "amended")


class ActTextError(InputError):
    """An --ai-act-text value that names no text of the Act (exit code 2)."""


@dataclass(frozen=True)
class ActText:
    key: str  # original | amended
    iri: str
    title: str
    source: str
    in_force_from: date
    note: str = ""


@lru_cache(maxsize=1)
def act_texts() -> tuple[ActText, ...]:
    """The texts the shipped EU AI Act catalogue records, oldest first (read once per version of
    the catalogue files: cache.py; parsing the catalogues costs a second, which a command answering
    from a stored analysis otherwise pays for these few facts)."""
    from pathlib import Path

    from .cache import cached
    from .load import catalogue_files

    return cached("act-texts", [*catalogue_files(), Path(__file__)], _read_act_texts)


def _read_act_texts() -> tuple[ActText, ...]:
    from .load import catalogue_graph  # the catalogue is parsed once per process

    g = catalogue_graph()
    texts = []
    for node in g.subjects(RDF.type, AIMS.ActText):
        texts.append(ActText(str(g.value(node, AIMS.textKey)), str(node), str(g.value(node, RDFS.label)),
                             str(g.value(node, DCTERMS.source)),
                             date.fromisoformat(str(g.value(node, AIMS.inForceFrom))),
                             str(g.value(node, SKOS.note) or "")))
    return tuple(sorted(texts, key=lambda t: t.in_force_from))


def resolve(choice: str, as_of: date) -> ActText:
    """The text a run applies: the one named, or for `auto` the latest in force at `as_of`."""
    texts = act_texts()
    if choice == "auto":
        in_force = [t for t in texts if t.in_force_from <= as_of]
        return in_force[-1] if in_force else texts[0]
    for text in texts:
        if text.key == choice:
            return text
    raise ActTextError(f"--ai-act-text must be one of {', '.join(CHOICES)}, got '{choice}'")


def check_choice(choice: str) -> str:
    if choice not in CHOICES:
        raise ActTextError(f"--ai-act-text must be one of {', '.join(CHOICES)}, got '{choice}'")
    return choice


def applied_text(store) -> dict:
    """What the run in `store` applied, for every output: the choice, the text's key, title,
    source and entry into force (empty when the store holds no run)."""
    rows = store.query(f"""
        SELECT ?choice ?text WHERE {{
          GRAPH <{GRAPH_PARAMETERS}> {{ ?run a aims:AssessmentRun ; aims:aiActText ?text .
                                        OPTIONAL {{ ?run aims:aiActTextChoice ?choice }} }}
        }}""").rows
    if not rows:
        return {}
    iri = str(rows[0]["text"])
    text = next((t for t in act_texts() if t.iri == iri), None)
    if text is None:
        return {"choice": str(rows[0].get("choice", "")), "applied": iri}
    return {"choice": str(rows[0].get("choice", text.key)), "applied": text.key, "title": text.title,
            "source": text.source, "in_force_from": text.in_force_from.isoformat()}


def text_iri(key: str) -> URIRef:
    return URIRef(next(t.iri for t in act_texts() if t.key == key))
