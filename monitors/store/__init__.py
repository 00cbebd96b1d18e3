"""Verdict memory in Azure Table Storage: state, transitions, change events, runs, operations.

The layout (tables, partition and row keys, sizes) is described in docs/storage.md.
"""
