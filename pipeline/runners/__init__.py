"""Runners of the one DAG: LocalDagRunner, the Kubeflow compiler and client, and the Kubeflow entrypoint."""
