"""Tests of components/reports/."""
