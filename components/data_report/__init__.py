"""The DataReport step: what ExampleGen accepted and rejected, the anomalies and statistics, as reports."""
