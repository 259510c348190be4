"""visionflow's pipeline layer: the DAG, its runners and the CLI."""
