"""A zoo of real image classification sets, so that a benchmark sees the kinds of data users bring.

Every image comes from a package: scikit-learn's digits and sample photos, scikit-image's bundled photos and
textures, and the TrueType fonts of a few small Debian font packages (`ensure_sources` installs them), so no
set needs a download. Generation is seeded, so the same packages give the same files.

Each set is written in the 5-flowers layout: class folders of JPEG files, `labels.txt` (one class a line) and
`all_data.csv` with `relative_path,label,split` rows and no header. The test split is the held-out part a
benchmark reports. It is drawn by each image's bytes hash, as ExampleGen would draw it (sha256 modulo 10: 0-7
train, 8 validation, 9 test), except in the source-shift sets, where the test split is every image from sources
that train and validation never see, and the rest is split 8:1 by the same hash.

Usage: .venv/bin/python benchmarks/image_zoo.py TARGET_DIR
"""
import csv
import glob
import hashlib
import io
import os
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SETS = {
    'digit_scans': "grey scans: scikit-learn's 1,797 handwritten digits at 48 px, single-channel JPEG",
    'glyphs_rgb': 'grey stored as RGB, source shift: letters A-J in many fonts at 48 px; the test split is '
                  'drawn only with fonts that train and validation never use',
    'photo_crops': 'colour photos: 96-256 px crops of ten colour photos, the class being the photo',
    'colour_thumbnails': 'colour thumbnails: 32 px patches of ten materials or scenes (sky, foliage, fur...) cut '
                         'from hand-picked regions of the colour photos',
    'grey_textures_rgb': 'grey stored as RGB: 56 px crops of ten grey photos and textures',
    'photo_region_shift': 'colour photos, source shift: 96-160 px crops of ten colour photos; the test split is '
                          'cut only from the rightmost 30% of each photo, which train and validation never see',
    'faces_lfw': 'grey faces against background, source shift: five 80-100% crops of each of the 200 25 px LFW '
                 'images that ship with scikit-image (100 faces, 100 non-faces), at 48 px; the test split is cut '
                 'only from a quarter of the source images, which train and validation never see',
}
SEED = 20240601
CSV_NAME = 'all_data.csv'
LABELS_NAME = 'labels.txt'
# Debian packages of the glyph fonts, each with one file that shows it is installed. DejaVu ships with most
# images; the others are small (together about 6 MB).
FONT_PACKAGES = {
    'fonts-dejavu-core': '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
    'fonts-dejavu-extra': '/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf',
    'fonts-liberation': '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf',
    'fonts-freefont-ttf': '/usr/share/fonts/truetype/freefont/FreeSans.ttf',
    'fonts-crosextra-carlito': '/usr/share/fonts/truetype/crosextra/Carlito-Regular.ttf',
    'fonts-crosextra-caladea': '/usr/share/fonts/truetype/crosextra/Caladea-Regular.ttf',
    'fonts-open-sans': '/usr/share/fonts/truetype/open-sans/OpenSans-Regular.ttf',
}
TRAIN_FONTS = ('dejavu/DejaVuS*.ttf', 'liberation/LiberationS*.ttf', 'freefont/Free*.ttf',
               'open-sans/OpenSans-*.ttf')
# Whole families held out for the test split: a sans, a serif and a monospace one.
TEST_FONTS = ('crosextra/Carlito-*.ttf', 'crosextra/Caladea-*.ttf', 'liberation/LiberationMono-*.ttf')
# The font files those packages hold in Debian 12, so that another font set fails rather than changes the images.
FONT_COUNTS = {TRAIN_FONTS: 58, TEST_FONTS: 12}
GLYPHS = 'ABCDEFGHIJ'
# Regions (top, left, bottom, right, as fractions of the photo) that show one material or scene.
THUMBNAIL_REGIONS = {
    'sky': [('china', (0.0, 0.5, 0.3, 1.0)), ('rocket', (0.0, 0.15, 0.35, 0.4))],
    'foliage': [('china', (0.8, 0.0, 1.0, 0.3)), ('china', (0.75, 0.55, 1.0, 1.0)), ('flower', (0.0, 0.0, 0.4, 0.3))],
    'fur': [('chelsea', (0.0, 0.2, 0.3, 0.75))],
    'wood': [('coffee', (0.0, 0.6, 0.3, 1.0)), ('coffee', (0.5, 0.82, 1.0, 1.0))],
    'petals': [('flower', (0.3, 0.35, 0.75, 0.62))],
    'tissue': [('ihc', (0.0, 0.0, 1.0, 1.0))],
    'fundus': [('retina', (0.25, 0.25, 0.75, 0.75))],
    'stars': [('hubble', (0.0, 0.0, 1.0, 1.0))],
    'spacesuit': [('astronaut', (0.55, 0.05, 1.0, 0.4))],
    'pagoda': [('china', (0.25, 0.15, 0.8, 0.48))],
}
SHIFTED = ('glyphs_rgb', 'photo_region_shift', 'faces_lfw')


def materialize(name: str, target_dir: str):
  """Writes set `name` under target_dir, once: an existing CSV marks a complete set. Returns (csv_path,
  labels_path)."""
  csv_path, labels_path = os.path.join(target_dir, CSV_NAME), os.path.join(target_dir, LABELS_NAME)
  if os.path.exists(csv_path):
    return csv_path, labels_path
  labels, samples = GENERATORS[name](np.random.default_rng(SEED))
  rows = []
  for index, (label, image, unseen_source) in enumerate(samples):
    encoded = io.BytesIO()
    image.save(encoded, format='JPEG', quality=90)
    data = encoded.getvalue()
    relative = f'{label}/{label}_{index:05d}.jpg'
    os.makedirs(os.path.join(target_dir, label), exist_ok=True)
    with open(os.path.join(target_dir, relative), 'wb') as handle:
      handle.write(data)
    rows.append((relative, label, 'test' if unseen_source else _split_of(data, name in SHIFTED)))
  with open(labels_path, 'w') as handle:
    handle.write('\n'.join(labels) + '\n')
  # The CSV is written last, so that its presence means the set is complete.
  with open(csv_path, 'w', newline='') as handle:
    csv.writer(handle).writerows(rows)
  return csv_path, labels_path


def ensure_sources() -> None:
  """Installs the missing font packages that glyphs_rgb draws with (the other sets need only the venv)."""
  missing = [package for package, marker in FONT_PACKAGES.items() if not os.path.exists(marker)]
  if not missing:
    return
  if not shutil.which('apt-get'):
    raise RuntimeError(f'apt-get not found; install the Debian packages {" ".join(missing)} by hand')
  prefix = [] if os.geteuid() == 0 else ['sudo', '-n']
  if prefix and not shutil.which('sudo'):
    raise RuntimeError(f'not root and no sudo; install the Debian packages {" ".join(missing)} as root')
  environment = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
  for command in (['apt-get', 'update', '-qq'], ['apt-get', 'install', '-y', '-qq', *missing]):
    done = subprocess.run(prefix + command, env=environment, capture_output=True, text=True)
    if done.returncode:
      last_line = (done.stderr.strip() or done.stdout.strip() or 'no output').splitlines()[-1]
      raise RuntimeError(f'{" ".join(command)} failed ({done.returncode}): {last_line}')


def _split_of(data: bytes, shifted: bool) -> str:
  """The bytes-hash split; a shifted set's test split is its unseen sources, so the hash splits only 8:1."""
  bucket = int(hashlib.sha256(data).hexdigest(), 16) % (9 if shifted else 10)
  return 'train' if bucket < 8 else ('validation' if bucket == 8 else 'test')


def _digit_scans(rng):
  """The digits as a scanner would give them: one grey channel, upscaled from 8x8 to 48 px."""
  from sklearn.datasets import load_digits

  digits = load_digits()
  labels = [str(digit) for digit in range(10)]
  return labels, ((labels[target], Image.fromarray((scan * (255 / 16)).astype(np.uint8)).resize(
      (48, 48), Image.BILINEAR), False) for scan, target in zip(digits.images, digits.target))


def _fonts(patterns):
  paths = sorted(path for pattern in patterns for path in glob.glob(f'/usr/share/fonts/truetype/{pattern}'))
  if len(paths) != FONT_COUNTS[patterns]:
    raise RuntimeError(f'{len(paths)} fonts match {patterns}, not {FONT_COUNTS[patterns]}; '
                       'call image_zoo.ensure_sources() first')
  return paths


def _glyph(letter: str, font_path: str, rng) -> Image.Image:
  """One letter with the variations of a photographed sign: grey levels, scale, position, tilt and noise."""
  canvas = 144  # three times the final size, so that the downscale smooths the edges
  background = int(rng.integers(0, 256))
  ink = int(rng.integers(0, 256))
  while abs(ink - background) < 80:
    ink = int(rng.integers(0, 256))
  image = Image.new('L', (canvas, canvas), background)
  font = ImageFont.truetype(font_path, int(rng.uniform(0.45, 0.8) * canvas))
  centre = canvas / 2 + rng.uniform(-0.12, 0.12, size=2) * canvas
  ImageDraw.Draw(image).text(tuple(centre), letter, fill=ink, font=font, anchor='mm')
  image = image.rotate(rng.uniform(-8, 8), resample=Image.BICUBIC, fillcolor=background)
  image = image.resize((48, 48), Image.LANCZOS)
  noisy = np.asarray(image, dtype=np.float32) + rng.normal(0, rng.uniform(0, 12), size=(48, 48))
  return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).convert('RGB')


def _glyphs_rgb(rng):
  """Three images a letter from every training font, four from every held-out one."""
  fonts = [(path, False, 3) for path in _fonts(TRAIN_FONTS)] + [(path, True, 4) for path in _fonts(TEST_FONTS)]
  return list(GLYPHS), ((letter, _glyph(letter, path, rng), unseen) for path, unseen, count in fonts
                        for letter in GLYPHS for _ in range(count))


def _colour_photos():
  import skimage.data
  from sklearn.datasets import load_sample_images

  photos = {'astronaut': skimage.data.astronaut(), 'chelsea': skimage.data.chelsea(),
            'coffee': skimage.data.coffee(), 'hubble': skimage.data.hubble_deep_field(),
            'ihc': skimage.data.immunohistochemistry(), 'motorcycle': skimage.data.stereo_motorcycle()[0],
            'retina': skimage.data.retina(), 'rocket': skimage.data.rocket()}
  photos.update(zip(('china', 'flower'), load_sample_images().images))
  return {name: photo[:, :, :3] for name, photo in photos.items()}


def _crop(photo, rng, box, side_fraction, size_range) -> Image.Image:
  """A random square crop inside box (top, left, bottom, right, as fractions of the photo), whose side is
  side_fraction (low, high) of the photo's shorter side but at most the box's, resized to size_range px."""
  height, width = photo.shape[:2]
  top, left, bottom, right = (int(fraction * extent) for fraction, extent in zip(box, (height, width) * 2))
  side = min(int(rng.uniform(*side_fraction) * min(height, width)), bottom - top, right - left)
  y, x = int(rng.integers(top, bottom - side + 1)), int(rng.integers(left, right - side + 1))
  size = int(rng.integers(size_range[0], size_range[1] + 1))
  return Image.fromarray(photo[y:y + side, x:x + side]).resize((size, size), Image.BILINEAR)


def _photo_crops(rng):
  """120 crops a photo, a fifth to nearly a half of its shorter side, at 96-256 px."""
  photos = _colour_photos()
  return list(photos), ((name, _crop(photo, rng, (0, 0, 1, 1), (0.2, 0.45), (96, 256)), False)
                        for name, photo in photos.items() for _ in range(120))


def _colour_thumbnails(rng):
  """200 small patches a class, from each of its regions in turn, like CIFAR's 32 px thumbnails."""
  photos = _colour_photos()

  def patches(regions):
    for index in range(200):
      name, box = regions[index % len(regions)]
      yield _crop(photos[name], rng, box, (0.06, 0.16), (32, 32))

  return list(THUMBNAIL_REGIONS), ((label, patch, False) for label, regions in THUMBNAIL_REGIONS.items()
                                   for patch in patches(regions))


def _grey_textures_rgb(rng):
  """150 crops from each grey image, stored with three equal channels as many grey photos are."""
  import skimage.data

  sources = ('brick', 'grass', 'gravel', 'camera', 'moon', 'coins', 'page', 'text', 'clock', 'cell')
  return list(sources), ((name, _crop(getattr(skimage.data, name)(), rng, (0, 0, 1, 1), (0.15, 0.4), (56, 56))
                          .convert('RGB'), False) for name in sources for _ in range(150))


def _photo_region_shift(rng):
  """120 train/validation crops a photo from its left 70% and 40 test crops from the rest."""
  photos = _colour_photos()
  parts = [((0, 0, 1, 0.7), False, 120), ((0, 0.7, 1, 1), True, 40)]
  return list(photos), ((name, _crop(photo, rng, box, (0.15, 0.3), (96, 160)), unseen)
                        for name, photo in photos.items() for box, unseen, count in parts for _ in range(count))


def _faces_lfw(rng):
  """Five crops of every LFW image; every fourth source image (of each class) gives the test split alone."""
  import skimage.data

  images = skimage.data.lfw_subset()
  order = rng.permutation(len(images))

  def crops(index):
    image = Image.fromarray((images[index] * 255).astype(np.uint8))
    for _ in range(5):
      side = int(rng.integers(20, 26))
      x, y = (int(value) for value in rng.integers(0, 25 - side + 1, size=2))
      yield image.crop((x, y, x + side, y + side)).resize((48, 48), Image.BICUBIC)

  return ['face', 'background'], (('face' if index < 100 else 'background', crop, position % 4 == 0)
                                  for position, index in enumerate(order) for crop in crops(index))


GENERATORS = {'digit_scans': _digit_scans, 'glyphs_rgb': _glyphs_rgb, 'photo_crops': _photo_crops,
              'colour_thumbnails': _colour_thumbnails, 'grey_textures_rgb': _grey_textures_rgb,
              'photo_region_shift': _photo_region_shift, 'faces_lfw': _faces_lfw}


def _summary(csv_path: str) -> str:
  with open(csv_path, newline='') as handle:
    rows = list(csv.reader(handle))
  splits = {split: sum(row[2] == split for row in rows) for split in ('train', 'validation', 'test')}
  sizes, modes = set(), set()
  for relative, _, _ in rows:
    with Image.open(os.path.join(os.path.dirname(csv_path), relative)) as image:
      sizes.add(image.size[0])
      modes.add(image.mode)
  side = f'{min(sizes)}' if len(sizes) == 1 else f'{min(sizes)}-{max(sizes)}'
  return (f'{len(rows)} images, {len({row[1] for row in rows})} classes, '
          + ', '.join(f'{split} {count}' for split, count in splits.items())
          + f'; {side} px square, stored {"RGB" if modes == {"RGB"} else "/".join(sorted(modes))}')


def main() -> None:
  if len(sys.argv) != 2:
    sys.exit(__doc__.strip().splitlines()[-1])
  ensure_sources()
  for name, description in SETS.items():
    csv_path, _ = materialize(name, os.path.join(sys.argv[1], name))
    print(f'{name}: {_summary(csv_path)}\n  ({description})', flush=True)


if __name__ == '__main__':
  main()
