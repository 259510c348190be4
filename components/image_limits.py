"""What an image file must satisfy before it becomes an example or is given to a model, with the defaults.

Kept free of TensorFlow so that the config takes its defaults from here and validates without loading it;
components/images.py applies the limits.
"""
import dataclasses
from typing import Optional


@dataclasses.dataclass(frozen=True)
class ImageLimits:
  """The limits of one image file.

  `image_size` is the square Transform resizes to: an image whose shorter side would resize to 0 pixels
  there cannot become a tensor, so it is refused here instead of failing Transform for every row (None:
  no resize to check, for a model without a Transform signature).
  """
  max_pixels: int = 50_000_000       # width x height declared in the header (decompression bombs)
  max_bytes: int = 100_000_000       # file size, from stat, before anything is read
  max_aspect_ratio: float = 20.0     # longer side over shorter side
  image_size: Optional[int] = 32
