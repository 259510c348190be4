"""Artifact output keys, property names and file names, spelled once.

The executors that write them and the runners and UI that read them back import these names from here. This
module imports nothing, so readers that must not load TensorFlow or TFX (`visionflow runs`, `show`, `ui`) can
use them too. Names that TFX itself writes are TFX's spelling; tests/components/test_names.py holds them to it.
"""

# Output keys: TFX's standard components' and this project's own.
EXAMPLES = 'examples'
MODEL = 'model'
TRANSFORM_GRAPH = 'transform_graph'
STATISTICS = 'statistics'
ANOMALIES = 'anomalies'
MODEL_RUN = 'model_run'
BEST_HYPERPARAMETERS = 'best_hyperparameters'
TUNER_RESULTS = 'tuner_results'
EVALUATION = 'evaluation'
BLESSING = 'blessing'
PUSHED_MODEL = 'pushed_model'
INFERENCE_RESULT = 'inference_result'
HTML_REPORT = 'html_report'          # a report as system.HTML, which the Kubeflow Pipelines UI renders
MARKDOWN_REPORT = 'markdown_report'  # the same report as system.Markdown

# Examples (ExampleGen): how many rows it accepted and rejected, and where the rejected rows are.
ACCEPTED_ROWS = 'accepted_rows'
REJECTED_ROWS = 'rejected_rows'
REJECTS_URI = 'rejects_uri'
# ...and what the model's defaults are chosen from: how many accepted images are in colour, and how many reach
# each of components/model_choice.py's IMAGE_SIZES on their shorter side ({"32": count, ...}).
COLOUR_IMAGES = 'colour_images'
SHORTER_SIDE_AT_LEAST = 'images_with_shorter_side_at_least'
SPLIT_PREFIX = 'Split-'               # TFX's folder of each split in an artifact
REJECTS_FILE = 'rejects.csv'          # the rows that became no example, with the reason for each
DERIVED_CSV_FILE = 'derived_input.csv'  # an image folder's rows, as ExampleGen read them
SPLIT_CONFLICTS_FILE = 'split_conflicts.csv'
# A refused ExampleGen's reports outlive its output artifact, which TFX deletes, in `<artifact uri>-refused/`;
# the failed execution names them in its result's details.
REFUSED_FOLDER_SUFFIX = '-refused'


# ...and TFX's own: the span, the fingerprint of the input files (sizes and modification times; TFX's cache
# key) and the splits, also ExampleGen's execution properties where they are its settings.
SPAN = 'span'
INPUT_FINGERPRINT = 'input_fingerprint'
SPLIT_NAMES = 'split_names'


def accepted_rows_in(split: str) -> str:
  """The Examples property counting the rows accepted into one split."""
  return f'{ACCEPTED_ROWS}_{split}'


# Example anomalies (ExampleValidator): the features that drifted from the previous span (a JSON list of
# {feature, measure, value, threshold, previous_span}), that span, and, on a run refused for drift, the
# anomalies' path in the failed execution's details.
DRIFT = 'drift'
DRIFT_PREVIOUS_SPAN = 'drift_previous_span'
DRIFT_ANOMALIES_URI = 'drift_anomalies_uri'

# Files TFX's StatisticsGen, ExampleValidator and this project's Tuner write.
STATISTICS_FILE = 'FeatureStats.pb'
ANOMALIES_FILE = 'SchemaDiff.pb'
BEST_HYPERPARAMETERS_FILE = 'best_hyperparameters.txt'
TUNER_RESULTS_FILE = 'tuner_results.json'

# Transform graph and Model (Transform, Trainer): the model components/model_choice.py chose, in one line,
# and (Model only) as its fields.
MODEL_CHOICE = 'model_choice'
MODEL_SETTINGS = 'model_settings'
# Model (Trainer): whether it started from the weights of the model in production, and why, in one line.
WARM_START = 'warm_start'
WARM_START_FILE = 'warm_start.txt'  # run_fn's decision, beside the exported model, for the executor
# Model (Trainer): how its fit ended (components/trainer/training.py:TrainingOutcome), in one line and as fields.
TRAINING_OUTCOME = 'training_outcome'
EPOCHS_TRAINED = 'epochs_trained'
TRAINING_OUTCOME_FILE = 'training_outcome.json'  # the chief's outcome, beside the exported model

# Evaluation (Evaluator): the candidate's overall accuracy, and the report in the artifact's report/ folder.
ACCURACY = 'accuracy'
REPORT_HTML = 'report_html'          # property: the path of the whole report page
REPORT_MARKDOWN = 'report_markdown'  # property: the path of the Markdown report
REPORT_DETAILS = 'report_details'    # property: the path of the report's tables and charts, without the decision
REPORT_FOLDER = 'report'
REPORT_HTML_FILE = 'report.html'
REPORT_MARKDOWN_FILE = 'report.md'
REPORT_DETAILS_FILE = 'details.html'
CONFUSION_MATRIX_FILE = 'confusion_matrix.svg'
# ...and the integrated-gradients heatmaps of test images: PNG files in the report's explanations/ folder, how
# many (0 when they could not be computed; the report says why), and the seconds they took.
EXPLANATIONS_FOLDER = 'explanations'
EXPLAINED_IMAGES = 'explained_images'
EXPLANATION_SECONDS = 'explanation_seconds'

# ...and the counts the blessing gates were decided on, as JSON lists, so that runs can be compared without
# TFMA: each slice's test examples and right answers (components/accuracy_intervals.py:SliceCounts) and, with a
# model in production, the examples only one of the two models got right (PairedCounts, per slice).
SLICE_COUNTS = 'slice_counts'
PAIRED_COUNTS = 'paired_counts'

# TFMA's name of the accuracy that the blessing gates read, in the evaluation output.
ACCURACY_METRIC = 'sparse_categorical_accuracy'

# Evaluation of the model in production (ProductionMonitor): which version, when, and the alerts it raised.
MONITORED_MODEL = 'monitored_model'
MONITORED_AT = 'monitored_at'
ALERTS = 'alerts'
SLICE_ACCURACY = 'slice_accuracy'  # {slice: {accuracy, examples}}
ALERT_RULES = 'alert_rules'        # {min_accuracy, max_weekly_drop, min_examples}

# Blessing (Evaluator): TFX's decision, the model in production it was measured against, and why not.
BLESSED = 'blessed'
BASELINE_VERSION_DIR = 'baseline_version_dir'
BLESSING_REASONS = 'blessing_reasons'  # a list of sentences, one per failed gate; empty when blessed
BLESSING_GATES = 'blessing_gates'  # every gate checked, with its value and interval (gates.Gate, a JSON list)

# Pushed model (Pusher): TFX's properties, why a blessed model was not pushed, and whether the version it
# names was already there (the same bytes, pushed before: not copied again).
PUSHED = 'pushed'
PUSHED_DESTINATION = 'pushed_destination'
PUSHED_VERSION = 'pushed_version'
NOT_PUSHED_REASON = 'not_pushed_reason'
ALREADY_SERVED = 'already_served'

# Inference result (ScoreSpan): the model version that scored which images, and how many rows were scored,
# predicted and failed (components/batch_inference).
SCORED_MODEL = 'scored_model'
SCORED_IMAGES = 'scored_images'
SCORED_ROWS = 'scored_rows'
PREDICTED_ROWS = 'predicted_rows'
FAILED_ROWS = 'failed_rows'

# The serving directory: `<serving_dir>/<model_name>/<version>/saved_model.pb` and TF Serving's config.
SAVED_MODEL_FILE = 'saved_model.pb'
MODELS_CONFIG_FILE = 'models.config'
# ...and what the Pusher adds beside saved_model.pb in each version folder, which TF Serving ignores.
TFLITE_FILE = 'model.tflite'
TFLITE_QUANTIZED_FILE = 'model_quantized.tflite'
MODEL_CARD_MARKDOWN_FILE = 'model_card.md'
MODEL_CARD_HTML_FILE = 'model_card.html'

# The continuous evaluation's pipeline (`visionflow evaluate`) is named after the training pipeline with this
# suffix: the runs list tells the two apart by it.
MONITORING_PIPELINE_SUFFIX = '-monitoring'

# Where TFX's launcher records why an execution failed (an ExecutionResult as JSON), and the detail this
# project adds to a refused ExampleGen's result.
EXECUTION_RESULT_PROPERTY = '__execution_result__'
REFUSED_REJECTS_URI = 'refused_rejects_uri'
