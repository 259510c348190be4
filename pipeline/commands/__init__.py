"""The `visionflow` commands, one module per group; pipeline/cli.py assembles their parsers into one."""
