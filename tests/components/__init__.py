"""Tests of components/: one folder per pipeline step."""
