"""Feature names shared by ExampleGen, Transform, Trainer and Evaluator: one place, one spelling."""

# Raw tf.Example features written by ExampleGen.
IMAGE = 'image'          # encoded image bytes, exactly as read from the file
LABEL = 'label'          # class name, as in the CSV
PATH = 'path'            # image path as written in the CSV
HEIGHT = 'height'
WIDTH = 'width'
FORMAT = 'format'        # 'jpeg', 'png', ...
SIZE_BUCKET = 'size_bucket'  # the longer side's range, e.g. 'under_128px': an evaluation slice
RAW_FEATURES = (IMAGE, LABEL, PATH, HEIGHT, WIDTH, FORMAT, SIZE_BUCKET)

# Features Transform produces for training.
PIXELS = 'pixels'        # float32 [image_size, image_size, 3] in [0, 1]
LABEL_INDEX = 'label_index'  # int64 position of LABEL in the labels file

# Serving.
SERVING_INPUT = 'image_bytes'
TF_EXAMPLE_SIGNATURE = 'serving_tf_example'
TRANSFORM_SIGNATURE = 'transform_features'
PROBABILITIES = 'probabilities'
CLASS_INDEX = 'class_index'
CLASS_NAME = 'class_name'

SPLITS = ('train', 'eval', 'test')
TEST_SPLIT = SPLITS[2]  # what the Evaluator measures on: no training or tuning step reads it
