"""Did pre-provisioning actually go green? Intune's record of Autopilot deployments, read
incrementally (`polling`), each pre-provisioning attempt assessed against what Greenscreen said
at that time (`assessment`), real failures alerted with their probable cause (`alerting`), and
the precision and recall of the predictions (`accuracy`). Design: docs/deployments.md.
"""
