"""The batch inference step: a pushed model scores many images on Apache Beam (RunInference)."""
