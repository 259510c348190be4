"""visionflow's tests: the tree mirrors the code, with end-to-end, container and manifest tests beside it."""
