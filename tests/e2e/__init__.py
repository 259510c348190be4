"""End-to-end runs of the whole pipeline on LocalDagRunner (marked slow)."""
