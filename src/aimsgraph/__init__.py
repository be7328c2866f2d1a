"""aimsgraph: knowledge graph and rule inference for ISO/IEC 42001 and the EU AI Act."""

__version__ = "0.1.0"
