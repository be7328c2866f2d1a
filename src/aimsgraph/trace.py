"""Traceability: the chains from AI systems, risks, EU AI Act obligations and ISO/IEC 42001
clauses down to controls and their evidence, as a networkx graph built from two named SPARQL
queries (`trace-nodes`, `trace-edges`); the trace of one entry as a tree, GraphML, DOT, SVG or
PNG; impact analysis (what loses cover when a control fails or evidence lapses) and the
controls that carry the most coverage, so an auditor knows where to sample first.

Edges point from what needs cover to what gives it (system -> risk -> treatment -> control ->
evidence; system -> article -> control; clause -> control): what an entry rests on is the set of
its descendants, what depends on it the set of its ancestors.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
from rdflib import URIRef

from .errors import AimsGraphError
from .namespaces import to_curie
from .query import run_named
from .store import Store

KINDS = ("system", "risk", "treatment", "control", "evidence", "article", "clause")
# How the tree reads an edge going down ("risk R-1" -> "treatment R-1/treatment") and going up.
READ_DOWN = {
    "has-component": "component system",
    "has-risk": "risk",
    "treated-by": "treatment",
    "uses-control": "control",
    "evidenced-by": "evidence",
    "has-obligation": "obligation under",
    "excludes": "not applicable under Art 2(2):",
    "covered-by": "covered by control",
    "partly-covered-by": "partly covered by control",
    "supported-by": "supported by control",
}
READ_UP = {
    "has-component": "part of system",
    "has-risk": "risk of system",
    "treated-by": "treatment of risk",
    "uses-control": "used in",
    "evidenced-by": "evidence for control",
    "has-obligation": "obligation of system",
    "excludes": "excluded by Art 2(2) for system",
    "covered-by": "covers",
    "partly-covered-by": "partly covers",
    "supported-by": "supports clause",
}
# relation -> (kind of source, kind of target)
ENDS = {
    "has-component": ("system", "system"),
    "has-risk": ("system", "risk"),
    "treated-by": ("risk", "treatment"),
    "uses-control": ("treatment", "control"),
    "evidenced-by": ("control", "evidence"),
    "has-obligation": ("system", "article"),
    "excludes": ("system", "article"),
    "covered-by": ("article", "control"),
    "partly-covered-by": ("article", "control"),
    "supported-by": ("clause", "control"),
}
PROBLEM_STATES = ("not covered", "expired", "pending", "missing", "not-applicable", "partial", "planned", "not-implemented")


class TraceError(AimsGraphError):
    """An id that names no traced entry, or a picture format with no renderer installed."""


def _natural(text: str) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def _node_key(term, ids: dict[str, str]) -> str:
    text = str(term)
    if text in ids:
        return ids[text]
    return to_curie(text) if isinstance(term, URIRef) else text


def trace_graph(store: Store) -> nx.DiGraph:
    """The whole traceability graph of a reasoned store. Nodes are named by register id (an
    Annex A control by its notation, e.g. A.7.4; articles and clauses by CURIE) and carry `kind`,
    `label`, `state` and `iri`; edges carry `relation`."""
    graph = nx.DiGraph()
    ids: dict[str, str] = {}
    for row in run_named(store, "trace-nodes").rows:
        iri = str(row["node"])
        key = str(row["id"]) if "id" in row else to_curie(iri)
        if iri in ids:  # a second label or category: keep the first, as the query orders rows
            continue
        ids[iri] = key
        kind, state = str(row["kind"]), str(row.get("state", ""))
        # The register's own entries always show; catalogue entries only when something links to them.
        listed = kind not in ("article", "clause", "control") or (kind == "control" and state != "missing")
        graph.add_node(key, kind=kind, label=str(row.get("label", "")), state=state, iri=iri, listed=listed)
    for row in run_named(store, "trace-edges").rows:
        relation = str(row["relation"])
        source, target = _node_key(row["source"], ids), _node_key(row["target"], ids)
        if relation == "partly-covered-by" and graph.has_edge(source, target):
            continue  # the control also covers it in full (its register row's maps_to)
        graph.add_edge(source, target, relation=relation)
        for key, term, kind in ((source, row["source"], ENDS[relation][0]), (target, row["target"], ENDS[relation][1])):
            data = graph.nodes[key]
            for attr, default in (("kind", kind), ("label", ""), ("state", ""), ("iri", str(term))):
                data.setdefault(attr, default)  # an entry the node query has no row for
            data["listed"] = True
    # Catalogue entries nothing links to are left out: the graph holds what the register uses.
    graph.remove_nodes_from([n for n, d in list(graph.nodes(data=True)) if not d.get("listed")])
    for _, data in graph.nodes(data=True):
        data.pop("listed", None)
    return graph


def resolve(graph: nx.DiGraph, ident: str) -> str:
    """The node an id names: a register id, an Annex A notation (A.7.4), or a CURIE
    (iso42001:A.7.4, euaia:art10, iso42001:8.1); `art10` and `8.1` are read as CURIEs too."""
    candidates = [ident]
    if ident.startswith("iso42001:A."):
        candidates.append(ident.split(":", 1)[1])
    if ":" not in ident:
        candidates += [f"euaia:{ident}", f"iso42001:{ident}"]
    for key in candidates:
        if key in graph:
            return key
    raise TraceError(f"'{ident}' names no AI system, risk, control, evidence, EU AI Act article or "
                     "ISO/IEC 42001 clause in the trace (is it linked to anything in the register?)")


def _nodes_of(graph: nx.DiGraph, nodes, kind: str) -> list[str]:
    """The nodes of one kind, in natural order; for articles only those some AI system must meet
    (the crosswalk also links controls to articles that bind none of the register's systems)."""
    def wanted(n: str) -> bool:
        if graph.nodes[n]["kind"] != kind:
            return False
        return kind != "article" or any(graph.edges[p, n]["relation"] == "has-obligation" for p in graph.predecessors(n))

    return sorted((n for n in nodes if wanted(n)), key=_natural)


def rests_on(graph: nx.DiGraph, root: str) -> nx.DiGraph:
    """The part of the graph `root` rests on: root and everything below it."""
    return graph.subgraph({root} | nx.descendants(graph, root)).copy()


def supports(graph: nx.DiGraph, root: str) -> nx.DiGraph:
    """The part of the graph that rests on `root`: root and everything above it."""
    return graph.subgraph({root} | nx.ancestors(graph, root)).copy()


def trace(graph: nx.DiGraph, root: str) -> nx.DiGraph:
    """The trace of one entry: what it rests on, and for a control or evidence item also what
    rests on it (the risks, systems, articles and clauses it gives cover to)."""
    nodes = {root} | nx.descendants(graph, root)
    if graph.nodes[root]["kind"] in ("control", "evidence"):
        nodes |= nx.ancestors(graph, root)
    return graph.subgraph(nodes).copy()


def is_problem(data: dict) -> bool:
    """Whether a node's state is a gap an auditor must see (expired evidence, missing SoA row...)."""
    state = data.get("state", "")
    if data["kind"] == "control":
        return "effective" not in state
    return any(state.startswith(p) for p in PROBLEM_STATES) or "untreated" in state


def _describe(graph: nx.DiGraph, node: str, plain: bool = False) -> str:
    """A node as a tree line; `plain` leaves out its state (an article reached as a duty Art 2(2)
    excludes: whether other systems' duties on it are covered does not concern this system)."""
    data = graph.nodes[node]
    label = data["label"] if len(data["label"]) <= 90 else data["label"][:89] + "…"
    state = f" [{data['state']}]" if data["state"] and not plain else ""
    mark = "  ✗" if is_problem(data) and not plain else ""
    return f"{node} — {label}{state}{mark}" if label else f"{node}{state}{mark}"


def _children(graph: nx.DiGraph, node: str, up: bool) -> list[tuple[str, str]]:
    if up:
        pairs = [(p, graph.edges[p, node]["relation"]) for p in graph.predecessors(node)]
    else:
        pairs = [(c, graph.edges[node, c]["relation"]) for c in graph.successors(node)]
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(pairs, key=lambda pr: (order[graph.nodes[pr[0]]["kind"]], _natural(pr[0])))


def tree_lines(graph: nx.DiGraph, root: str, up: bool = False) -> list[str]:
    """`root` and the chains below it (or above it, with `up`) as an indented tree. An entry
    met a second time is named but not expanded again."""
    lines = [f"{graph.nodes[root]['kind']} {_describe(graph, root)}"]
    seen = {root}
    readings = READ_UP if up else READ_DOWN

    def walk(node: str, prefix: str) -> None:
        kids = _children(graph, node, up)
        for i, (child, relation) in enumerate(kids):
            last = i == len(kids) - 1
            branch = prefix + ("└─ " if last else "├─ ")
            if child in seen:
                lines.append(f"{branch}{readings[relation]} {child} (see above)")
                continue
            seen.add(child)
            lines.append(f"{branch}{readings[relation]} {_describe(graph, child, plain=relation == 'excludes')}")
            walk(child, prefix + ("   " if last else "│  "))

    walk(root, "")
    return lines


def trace_text(graph: nx.DiGraph, root: str) -> str:
    """The trace of `root` as text: what it rests on and, for a control or evidence item, what
    rests on it. Entries marked ✗ are gaps (expired evidence, control not effective...)."""
    lines = tree_lines(rests_on(graph, root), root)
    if graph.nodes[root]["kind"] in ("control", "evidence"):
        above = supports(graph, root)
        if above.number_of_nodes() > 1:
            lines += ["", "gives cover to:"] + tree_lines(above, root, up=True)[1:]
    return "\n".join(lines) + "\n"


# --- exports ---------------------------------------------------------------------------------


def write_graphml(graph: nx.DiGraph, path: Path) -> None:
    nx.write_graphml(graph, path)


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _dot_id(text: str) -> str:
    return f'"{_dot_text(text)}"'


STYLE = {  # kind -> (fill, stroke): calm colours, one per column of the chain
    "system": ("#e8eef8", "#2f5597"),
    "risk": ("#fdf0e6", "#c55a11"),
    "treatment": ("#f3f3f3", "#7f7f7f"),
    "control": ("#e9f5ec", "#38764a"),
    "evidence": ("#eef6f7", "#31798a"),
    "article": ("#f1ecf8", "#6a4a9c"),
    "clause": ("#f1ecf8", "#6a4a9c"),
}
PROBLEM_STYLE = ("#fde8e8", "#c00000")


def to_dot(graph: nx.DiGraph) -> str:
    """The graph in Graphviz DOT, left to right, gaps in red."""
    lines = ["digraph trace {", "  rankdir=LR;", '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=8, color="#777777"];']
    for node in sorted(graph.nodes, key=_natural):
        data = graph.nodes[node]
        fill, stroke = PROBLEM_STYLE if is_problem(data) else STYLE[data["kind"]]
        short = data["label"] if len(data["label"]) <= 48 else data["label"][:47] + "…"
        parts = [node, short] + ([f"[{data['state']}]"] if data["state"] else [])
        label = '"' + "\\n".join(_dot_text(p) for p in parts) + '"'  # \n: a line break inside a DOT label
        lines.append(f"  {_dot_id(node)} [label={label}, "
                     f'fillcolor="{fill}", color="{stroke}", tooltip={_dot_id(data["label"])}];')
    for source, target, data in sorted(graph.edges(data=True), key=lambda e: (_natural(e[0]), _natural(e[1]))):
        lines.append(f"  {_dot_id(source)} -> {_dot_id(target)} [label={_dot_id(READ_DOWN[data['relation']])}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


COLUMN = {"system": 0, "risk": 1, "article": 1, "clause": 1, "treatment": 2, "control": 3, "evidence": 4}


def _layers(graph: nx.DiGraph) -> list[list[str]]:
    """Columns left to right, one per step of the chain (systems; risks, articles and clauses;
    treatments; controls; evidence), empty ones dropped. Inside a column, nodes follow the mean
    position of their parents (one barycentre pass), so edges cross little."""
    order = {k: i for i, k in enumerate(KINDS)}
    columns: dict[int, list[str]] = {}
    for node, data in graph.nodes(data=True):
        columns.setdefault(COLUMN[data["kind"]], []).append(node)
    layers = [sorted(columns[c], key=lambda n: (order[graph.nodes[n]["kind"]], _natural(n))) for c in sorted(columns)]
    position: dict[str, float] = {}
    for layer in layers:
        for i, node in enumerate(layer):  # provisional, so parents in the same column count
            position.setdefault(node, float(i))

        def centre(node: str) -> float:
            parents = [position[p] for p in graph.predecessors(node) if p in position and p not in layer]
            return sum(parents) / len(parents) if parents else position[node]

        layer.sort(key=lambda n: (centre(n), order[graph.nodes[n]["kind"]], _natural(n)))
        for i, node in enumerate(layer):
            position[node] = float(i)
    return layers


SVG_FONT = 12  # px at the picture's own size, which the report shows unscaled: every label >= 11 px
SVG_LINE = 15
SVG_CHARS = 24  # characters per line in a box (Helvetica at 12 px in a 180 px box)


def _wrap(text: str, width: int = SVG_CHARS) -> list[str]:
    """Lines of at most `width` characters, broken at spaces, slashes or hyphens where it can,
    inside a word only when it must: nothing is cut off."""
    import textwrap

    lines: list[str] = []
    for part in textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=True) or [""]:
        while len(part) > width:  # a long id: break after a slash or hyphen, else hard
            cut = max(part.rfind("/", 0, width), part.rfind("-", 0, width)) + 1 or width
            lines.append(part[:cut])
            part = part[cut:]
        lines.append(part)
    return lines


def to_svg(graph: nx.DiGraph, title: str = "", id_prefix: str = "trace") -> str:
    """A self-contained SVG picture of the graph, laid out in columns (pure Python, no
    Graphviz): a box per entry with its id, label and state wrapped in full (12 px text, no
    truncation), gaps in red, one arrow per edge with its own end points on both boxes (two
    treatments using one control give two arrows, never one), full labels as hover titles.
    `id_prefix` keeps element ids unique when several pictures share one HTML page."""
    box_w, gap_x, gap_y, pad, head = 180, 26, 12, 12, 30 if title else 0
    layers = _layers(graph)
    lines: dict[str, tuple[list[str], list[str], list[str]]] = {}
    height_of: dict[str, float] = {}
    for node, data in graph.nodes(data=True):
        state = data["state"] + ("  ✗" if is_problem(data) else "")
        lines[node] = (_wrap(node), _wrap(data["label"]), _wrap(state) if state else [])
        height_of[node] = 10 + SVG_LINE * sum(len(part) for part in lines[node])
    xy: dict[str, tuple[float, float]] = {}
    bottom = pad + head
    for col, layer in enumerate(layers):
        y = pad + head
        for node in layer:  # top-aligned, so a chain reads along one line
            xy[node] = (pad + col * (box_w + gap_x), y)
            y += height_of[node] + gap_y
        bottom = max(bottom, y - gap_y)
    width = pad * 2 + len(layers) * box_w + max(len(layers) - 1, 0) * gap_x
    height = bottom + pad + 26
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0f}" width="{width}" '
           f'height="{height:.0f}" font-family="Helvetica, Arial, sans-serif" role="img">',
           f'<defs><marker id="{id_prefix}-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#8c8c8c"/></marker></defs>']
    if title:
        out.append(f'<text x="{pad}" y="{pad + 14}" font-size="14" font-weight="bold" fill="#1f2937">'
                   f'{html.escape(title)}</text>')
    edges = sorted(graph.edges, key=lambda e: (_natural(e[0]), _natural(e[1])))

    def centre_y(node: str) -> float:
        return xy[node][1] + height_of[node] / 2

    # each edge gets its own end point on each box, spread over the box's side in the order of
    # the box at the other end, so arrows into one control from several treatments stay apart
    outgoing: dict[str, list[str]] = {}
    incoming: dict[str, list[str]] = {}
    for source, target in edges:
        outgoing.setdefault(source, []).append(target)
        incoming.setdefault(target, []).append(source)

    def anchor(node: str, others: list[str], other: str) -> float:
        ordered = sorted(others, key=lambda n: (centre_y(n), _natural(n)))
        return xy[node][1] + height_of[node] * (ordered.index(other) + 1) / (len(ordered) + 1)

    for source, target in edges:
        (x1, _), (x2, _) = xy[source], xy[target]
        y1, y2 = anchor(source, outgoing[source], target), anchor(target, incoming[target], source)
        if x2 > x1:
            x1 = x1 + box_w
            bend = (x2 - x1) / 2
        else:  # a component system in the same column: loop out to the left
            bend = -pad
        relation = READ_DOWN[graph.edges[source, target]["relation"]]
        out.append(f'<path d="M {x1:.0f} {y1:.0f} C {x1 + bend:.0f} {y1:.0f}, {x2 - bend:.0f} {y2:.0f}, {x2:.0f} {y2:.0f}" '
                   f'fill="none" stroke="#a6a6a6" stroke-width="1.2" marker-end="url(#{id_prefix}-arrow)">'
                   f'<title>{html.escape(f"{source} {relation} {target}")}</title></path>')
    for node, (x, y) in sorted(xy.items(), key=lambda kv: _natural(kv[0])):
        data = graph.nodes[node]
        problem = is_problem(data)
        fill, stroke = PROBLEM_STYLE if problem else STYLE[data["kind"]]
        hover = html.escape(f"{data['kind']} {node}: {data['label']} [{data['state']}]")
        out.append(f'<g><title>{hover}</title>'
                   f'<rect x="{x:.0f}" y="{y:.0f}" width="{box_w}" height="{height_of[node]:.0f}" rx="6" fill="{fill}" '
                   f'stroke="{stroke}" stroke-width="{2 if problem else 1.2}"/>')
        ids, label, state = lines[node]
        line_y = y + 5 + SVG_FONT
        for text, style in ([(s, f'font-weight="bold" fill="{stroke}"') for s in ids]
                            + [(s, 'fill="#333333"') for s in label] + [(s, f'fill="{stroke}"') for s in state]):
            out.append(f'<text x="{x + 7:.0f}" y="{line_y:.0f}" font-size="{SVG_FONT}" {style}>{html.escape(text)}</text>')
            line_y += SVG_LINE
        out.append("</g>")
    legend_y = height - pad
    x = pad
    for kind in [k for k in KINDS if any(d["kind"] == k for _, d in graph.nodes(data=True))] + ["gap"]:
        fill, stroke = PROBLEM_STYLE if kind == "gap" else STYLE[kind]
        out.append(f'<rect x="{x}" y="{legend_y - 10:.0f}" width="11" height="11" rx="2" fill="{fill}" stroke="{stroke}"/>'
                   f'<text x="{x + 15}" y="{legend_y:.0f}" font-size="{SVG_FONT}" fill="#555555">{kind}</text>')
        x += 28 + 7 * len(kind)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def png_renderer() -> str:
    """Path of Graphviz `dot` (Debian package graphviz), the PNG renderer; a clear error without it."""
    dot = shutil.which("dot")
    if dot is None:
        raise TraceError("--png needs Graphviz 'dot' on PATH (apt-get install graphviz); --svg works without it")
    return dot


def write_png(graph: nx.DiGraph, path: Path) -> None:
    """PNG through Graphviz `dot`, fed the DOT export."""
    dot = png_renderer()
    result = subprocess.run([dot, "-Tpng", "-o", str(path)], input=to_dot(graph), text=True,
                            capture_output=True, check=False)
    if result.returncode != 0:
        raise TraceError(f"Graphviz dot failed: {result.stderr.strip()}")


# --- impact and hotspots --------------------------------------------------------------------


@dataclass
class Impact:
    """What a failing control (or lapsing evidence item) takes away. `risks`, `systems`,
    `articles` and `clauses` rest on the failed controls; the `uncovered_*` subsets are those
    left with no other effective control (a risk: none in its treatment; an article or clause:
    none covering it; a system: one of its risks or obligations uncovered)."""

    root: str
    failed_controls: list[str]
    risks: list[str]
    systems: list[str]
    articles: list[str]
    clauses: list[str]
    uncovered_risks: list[str] = field(default_factory=list)
    uncovered_systems: list[str] = field(default_factory=list)
    uncovered_articles: list[str] = field(default_factory=list)
    uncovered_clauses: list[str] = field(default_factory=list)
    already_ineffective: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return dict(self.__dict__)


def _effective(graph: nx.DiGraph, node: str) -> bool:
    data = graph.nodes[node]
    return data["kind"] == "control" and "effective" in data["state"]


def impact(graph: nx.DiGraph, root: str) -> Impact:
    """What loses cover if control `root` fails, or if evidence `root` lapses (every control it
    backs then fails unless it holds other evidence that is still valid)."""
    kind = graph.nodes[root]["kind"]
    if kind == "control":
        failed = [root]
    elif kind == "evidence":
        failed = [c for c in graph.predecessors(root) if graph.nodes[c]["kind"] == "control"
                  and not any(e != root and not is_problem(graph.nodes[e]) for e in graph.successors(c))]
    else:
        raise TraceError(f"impact analysis starts from a control or an evidence item; '{root}' is a {kind}")
    failed_set = set(failed)
    above: set[str] = set()
    for control in failed:
        above |= nx.ancestors(graph, control)

    def still_covered(node: str, via: str) -> bool:
        """Whether another effective control still gives cover to `node` (through `via` edges)."""
        if via == "treatment":
            controls = {c for t in graph.successors(node) if graph.nodes[t]["kind"] == "treatment"
                        for c in graph.successors(t)}
        else:  # partial cover (intersects-with, subset-of crosswalk rows) discharges nothing
            controls = {c for c in graph.successors(node) if graph.nodes[c]["kind"] == "control"
                        and graph.edges[node, c]["relation"] != "partly-covered-by"}
        return any(_effective(graph, c) for c in controls - failed_set)

    risks = _nodes_of(graph, above, "risk")
    articles = _nodes_of(graph, above, "article")
    clauses = _nodes_of(graph, above, "clause")
    uncovered_risks = [r for r in risks if not still_covered(r, "treatment")]
    uncovered_articles = [a for a in articles if not still_covered(a, "direct")]
    uncovered_clauses = [c for c in clauses if not still_covered(c, "direct")]
    systems = _nodes_of(graph, above, "system")
    lost = set(uncovered_risks) | set(uncovered_articles)
    uncovered_systems = [s for s in systems if any(n in lost for n in nx.descendants(graph, s))]
    return Impact(root, sorted(failed, key=_natural), risks, systems, articles, clauses, uncovered_risks,
                  uncovered_systems, uncovered_articles, uncovered_clauses,
                  [c for c in sorted(failed, key=_natural) if not _effective(graph, c)])


def impact_text(result: Impact) -> str:
    def items(values: list[str]) -> str:
        return ", ".join(values) if values else "none"

    lines = [f"If {result.root} fails, these controls stop giving cover: {items(result.failed_controls)}"]
    if result.already_ineffective:
        lines.append(f"  (already not effective at the as-of date: {items(result.already_ineffective)})")
    for name in ("risks", "systems", "articles", "clauses"):
        values = getattr(result, name)
        uncovered = set(getattr(result, f"uncovered_{name}"))
        shown = [f"{v} ✗" if v in uncovered else v for v in values]
        lines.append(f"{name:>9}: {items(shown)}")
    lines.append("✗ = left with no other effective control")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Hotspot:
    control: str
    label: str
    state: str
    reach: int  # risks, systems, articles and clauses resting on the control
    risks: int
    systems: int
    articles: int
    clauses: int
    betweenness: float

    def as_json(self) -> dict:
        return dict(self.__dict__)


def hotspots(graph: nx.DiGraph, top: int | None = None) -> list[Hotspot]:
    """Controls ranked by the coverage they carry: how many risks, systems, articles and clauses
    rest on them (their reach upwards), ties broken by betweenness centrality (how many chains
    pass through them) and then by id. Sample the first ones first."""
    betweenness = nx.betweenness_centrality(graph, normalized=True)
    spots = []
    for control in (n for n, d in graph.nodes(data=True) if d["kind"] == "control"):
        above = nx.ancestors(graph, control)
        counts = {k: len(_nodes_of(graph, above, k)) for k in ("risk", "system", "article", "clause")}
        data = graph.nodes[control]
        spots.append(Hotspot(control, data["label"], data["state"], sum(counts.values()), counts["risk"],
                             counts["system"], counts["article"], counts["clause"], round(betweenness[control], 6)))
    spots.sort(key=lambda h: (-h.reach, -h.betweenness, _natural(h.control)))
    return spots[:top] if top else spots


def hotspots_text(spots: list[Hotspot]) -> str:
    lines = [f"{'rank':>4}  {'control':<12} {'reach':>5} {'risks':>5} {'systems':>7} {'articles':>8} {'clauses':>7} "
             f"{'between':>8}  state"]
    for i, h in enumerate(spots, 1):
        lines.append(f"{i:>4}  {h.control:<12} {h.reach:>5} {h.risks:>5} {h.systems:>7} {h.articles:>8} {h.clauses:>7} "
                     f"{h.betweenness:>8.4f}  {h.state}")
    return "\n".join(lines) + "\n"
