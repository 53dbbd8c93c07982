"""Fusion-opportunity search: which kernel to hand-write next.

From per-layer profiles of the unfused zoo graphs, find the connected
subgraphs a fused kernel could run (patterns: which ops are data-parallel,
what an epilogue is), count them across models by canonical signature
(subgraphs, signature), estimate what fusing each would save from its bytes
and the measured GB/s against the measured time of its ops (traffic,
estimate), measure the gains of those the passes already fuse (measure), and
rank them (search). `roofwatch-engine fusion-search` is the front end
(commands).
"""
from engine.fusion_search.search import Pattern, SearchResult, Settings, search

__all__ = ["Pattern", "SearchResult", "Settings", "search"]
