"""Real image files for tests of image reading, good and broken, made with Pillow."""
import io
import random
import struct
import zlib

from PIL import Image


def encoded(image_format: str, size=(24, 16), colour=(200, 30, 30)) -> bytes:
  buffer = io.BytesIO()
  Image.new('RGB', size, colour).save(buffer, format=image_format)
  return buffer.getvalue()


def noisy_jpeg(size=(96, 96)) -> bytes:
  """A photo-like JPEG: noise keeps most of the file in the compressed scan, after the header."""
  buffer = io.BytesIO()
  Image.frombytes('RGB', size, random.Random(0).randbytes(size[0] * size[1] * 3)).save(buffer, format='JPEG')
  return buffer.getvalue()


def truncated_jpeg() -> bytes:
  """A JPEG cut off in the middle of its scan data: the header is intact, the pixels are not."""
  data = noisy_jpeg()
  return data[:len(data) * 2 // 3]


def corrupt_jpeg() -> bytes:
  data = bytearray(encoded('JPEG', size=(64, 64)))
  data[2:40] = b'\x00' * 38  # the segment markers after the start-of-image are destroyed
  return bytes(data)


def png_header_only(width: int, height: int) -> bytes:
  """A PNG whose header declares width x height and which holds no pixel data at all."""
  def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))

  header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
  return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', b'') + chunk(b'IEND', b'')


def photo_jpeg(size=(160, 120), progressive=False, mode='RGB') -> bytes:
  """A photo-like JPEG: smooth colour fields under fine noise, optionally progressive or greyscale."""
  rng = random.Random(size[0] * size[1])
  field = Image.new('RGB', (4, 4))
  field.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(16)])
  noise = Image.frombytes('RGB', size, rng.randbytes(size[0] * size[1] * 3))
  photo = Image.blend(field.resize(size, Image.BICUBIC), noise, 0.15).convert(mode)
  buffer = io.BytesIO()
  photo.save(buffer, format='JPEG', quality=85, progressive=progressive)
  return buffer.getvalue()


def grey_stored_as_rgb(image_format: str, size=(40, 40)) -> bytes:
  """A grey photo saved with three channels, as many real sets store their scans and black-and-white photos."""
  grey = Image.open(io.BytesIO(photo_jpeg(size=size, mode='L'))).convert('RGB')
  buffer = io.BytesIO()
  grey.save(buffer, format=image_format)
  return buffer.getvalue()


def corruptions(data: bytes, count: int, seed: int = 0):
  """`count` damaged copies of `data`: cut short, bits flipped, runs zeroed, or random bytes inserted."""
  rng = random.Random(seed)
  for _ in range(count):
    damaged = bytearray(data)
    kind = rng.choice(('cut', 'flip', 'zero', 'insert'))
    if kind == 'cut':
      damaged = damaged[:rng.randrange(100, len(damaged))]
    elif kind == 'flip':
      for _ in range(rng.randint(1, 10)):
        position = rng.randrange(len(damaged))
        damaged[position] ^= 1 << rng.randrange(8)
    elif kind == 'zero':
      start = rng.randrange(len(damaged))
      damaged[start:start + 200] = bytes(len(damaged[start:start + 200]))
    else:
      position = rng.randrange(len(damaged))
      damaged[position:position] = rng.randbytes(rng.randint(1, 50))
    yield bytes(damaged)
