"""Tenant snapshots to try Greenscreen on: the bundled Contoso sample and a synthetic generator.

`contoso-sample.json` is the output of `build_sample.py`; `synthetic.py` generates tenants of any
size. Both follow docs/snapshot-format.md.
"""
