"""The embedded default data: scikit-learn's bundled handwritten digits written in the 5-flowers layout.

1,797 real 8x8 scans in 10 classes ship with scikit-learn (a dependency of the stack), so a run needs no
download. They are upscaled and written as JPEG files in class folders, with `all_data.csv`
(`path,label`, no header, paths relative to the CSV) and `labels.txt`.
"""
import csv
import os
from typing import Optional, Tuple

import numpy as np
from PIL import Image

CSV_NAME = 'all_data.csv'
LABELS_NAME = 'labels.txt'
CLASS_NAMES = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')


def materialize_digits(target_dir: str, image_pixels: int = 32,
                       limit: Optional[int] = None) -> Tuple[str, str]:
  """Writes the sample set under target_dir (once; an existing complete set is reused).

  Returns (csv_path, labels_path). `limit` keeps the first N images, for small test runs.
  """
  from sklearn.datasets import load_digits  # imported here: only the sample data needs scikit-learn

  csv_path = os.path.join(target_dir, CSV_NAME)
  labels_path = os.path.join(target_dir, LABELS_NAME)
  digits = load_digits()
  count = len(digits.images) if limit is None else min(limit, len(digits.images))
  if _is_complete(csv_path, labels_path, count):
    return csv_path, labels_path

  os.makedirs(target_dir, exist_ok=True)
  rows = []
  for index in range(count):
    class_name = CLASS_NAMES[digits.target[index]]
    relative_path = os.path.join(class_name, f'digit_{index:04d}.jpg')
    absolute_path = os.path.join(target_dir, relative_path)
    os.makedirs(os.path.dirname(absolute_path), exist_ok=True)
    scan = (digits.images[index] * (255.0 / 16.0)).astype(np.uint8)
    Image.fromarray(scan, mode='L').resize((image_pixels, image_pixels), Image.BILINEAR).save(
        absolute_path, format='JPEG', quality=95)
    rows.append((relative_path, class_name))
  with open(labels_path, 'w', encoding='utf-8') as handle:
    handle.write('\n'.join(CLASS_NAMES) + '\n')
  # The CSV is written last: its presence with the right row count marks a complete set.
  with open(csv_path, 'w', newline='', encoding='utf-8') as handle:
    csv.writer(handle).writerows(rows)
  return csv_path, labels_path


def _is_complete(csv_path: str, labels_path: str, count: int) -> bool:
  if not (os.path.exists(csv_path) and os.path.exists(labels_path)):
    return False
  with open(csv_path, encoding='utf-8') as handle:
    return sum(1 for _ in handle) == count
