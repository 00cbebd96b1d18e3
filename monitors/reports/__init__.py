"""Renderings of one readiness evaluation: terminal, JSON, JUnit, SARIF, Markdown and HTML.

`model` turns an evaluation into what every rendering shows (findings grouped by
pre-provisioning profile, verdicts against the `--fail-on` threshold, per-device readiness);
each other module renders that model in one format and returns text. Writing is `output`'s job.
"""
