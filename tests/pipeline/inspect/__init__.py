"""Tests of pipeline/inspect/."""
