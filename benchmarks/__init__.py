"""Benchmarks: scripts that print ratios measured side by side against a hand-written baseline."""
