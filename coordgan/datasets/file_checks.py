"""Cheap structural checks of image, mask and coordinate files, run before training reads them.

An image is never decoded here: its first 64 bytes, the headers that give
its size and its last 4 KiB are read, which finds empty, truncated and
non-image files in about a millisecond each. docs/datasets.md lists what is
checked per format. Masks are small and are decoded in full, since their
labels must be looked at anyway.
"""
import os
import os.path as osp
import struct
import zlib
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

import numpy as np

HEAD_BYTES = 64
# A file cut short ends inside its compressed data, where neither JPEG's
# end-of-image marker nor PNG's IEND chunk can occur, so the end marker
# must lie in the last TAIL_BYTES.
TAIL_BYTES = 4096
IMAGE_KINDS = 'JPEG, PNG, BMP, WebP or TIFF'

_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_PNG_IEND = b'IEND\xaeB`\x82'
_TIFF_MAGIC = (b'II*\x00', b'MM\x00*')
_BIGTIFF_MAGIC = (b'II+\x00', b'MM\x00+')
_TIFF_TYPES = {3: ('H', 2), 4: ('I', 4)}  # SHORT, LONG
_EXIF_ORIENTATION = 0x0112


class BadFileError(ValueError):
    """A file that cannot be used: ``str`` is ``'[owner: ]path: reason'``.

    Built from one string (as PyTorch re-raises a DataLoader worker's
    error), that string is the whole message.
    """

    def __init__(self, path: str, reason: Optional[str] = None,
                 owner: str = ''):
        self.path = path
        self.reason = reason
        prefix = f'{owner}: ' if owner else ''
        super().__init__(path if reason is None else
                         f'{prefix}{path}: {reason}')


class BadSampleError(ValueError):
    """Samples that failed the start-up file check; ``problems`` holds (path, reason) pairs."""

    def __init__(self, message: str,
                 problems: Sequence[Tuple[str, str]] = ()):
        super().__init__(message)
        self.problems = list(problems)


class ImageHeader(NamedTuple):
    """What an image's header says: format name, stored (H, W) and whether EXIF turns it a quarter."""

    format: str
    shape: Optional[Tuple[int, int]]
    transposed: bool = False

    def decoded_shape(self,
                      exif_rotation: bool = True) -> Optional[Tuple[int, int]]:
        """(H, W) as OpenCV returns it; it applies EXIF orientation unless told to ignore it."""
        if self.shape is None or not (self.transposed and exif_rotation):
            return self.shape
        return self.shape[1], self.shape[0]


class _Bad(Exception):
    """A reason, raised inside a format parser and given its path by :func:`read_image_header`."""


def read_image_header(path: str) -> ImageHeader:
    """Check ``path`` is a whole JPEG/PNG/BMP/WebP/TIFF file (size, signature, header, end marker) -> :class:`ImageHeader`.

    Raises :class:`BadFileError` naming the file and what is wrong with it.
    """
    try:
        size = os.path.getsize(path)
        if size == 0:
            raise _Bad(f'empty file (0 bytes); expected a {IMAGE_KINDS} '
                       'image')
        with open(path, 'rb') as f:
            head = f.read(HEAD_BYTES)
            if head.startswith(b'\xff\xd8\xff'):
                shape, transposed = _jpeg(f, size)
                return ImageHeader('JPEG', shape, transposed)
            if head.startswith(_PNG_SIGNATURE):
                return ImageHeader('PNG', _png(f, head, size))
            if head.startswith(b'BM'):
                return ImageHeader('BMP', _bmp(head, size))
            if head.startswith(b'RIFF') and head[8:12] == b'WEBP':
                return ImageHeader('WebP', _webp(head, size))
            if head[:4] in _TIFF_MAGIC:
                return ImageHeader('TIFF', _tiff(f, head, size))
            if head[:4] in _BIGTIFF_MAGIC:
                return ImageHeader('TIFF', None)
            raise _Bad(_not_an_image(path, head))
    except _Bad as bad:
        raise BadFileError(path, str(bad)) from None
    except struct.error:  # a header field pointing outside what was read
        raise BadFileError(path, 'corrupt image header: its fields point '
                           'outside the bytes it holds') from None
    except OSError as err:
        raise BadFileError(path, f'cannot be read ({err.strerror or err})') \
            from err


def describe_unreadable(path: str, err: BaseException) -> str:
    """Why a decoder failed on ``path``, in words: the header check's finding, else corrupt compressed data."""
    if not osp.exists(path):
        return 'the file does not exist (was it moved or deleted after ' \
               'the dataset was built?)'
    try:
        read_image_header(path)
    except BadFileError as bad:
        return bad.reason
    # mmcv's own "failed to load image" assertion would only repeat the path.
    detail = [] if isinstance(err, AssertionError) else str(
        err).strip().splitlines()
    detail = f' ({type(err).__name__}: {detail[-1][:200]})' if detail else ''
    return ('OpenCV cannot decode it although its header and end marker are '
            f'sound: the compressed data inside is corrupt{detail}')


def _not_an_image(path: str, head: bytes) -> str:
    expected = f'expected a {IMAGE_KINDS} image'
    if osp.basename(path).startswith('._'):
        return ("a macOS resource-fork file (name starts with '._'), not an "
                f'image; {expected} (delete these files)')
    lowered = head.lstrip().lower()
    if lowered.startswith((b'<!doctype html', b'<html')):
        return f'an HTML page, not an image (a failed download?); {expected}'
    if head.startswith(b'version https://git-lfs'):
        return ('a Git LFS pointer, not the image (run `git lfs pull`); '
                f'{expected}')
    if head.startswith(b'GIF8'):
        return f'a GIF, which OpenCV does not read; {expected}'
    if head[4:8] == b'ftyp':
        return (f'an ISO media file ({head[8:12].decode("latin-1")!r}: HEIC, '
                f'AVIF or video), which OpenCV does not read; {expected}')
    text = _as_text(head)
    if text is not None:
        return f'a text file (starts with {text[:24]!r}), not an image; ' \
               f'{expected}'
    return (f'not an image: starts with bytes {head[:8].hex(" ")}, matching '
            f'no image signature; {expected}')


def _as_text(head: bytes) -> Optional[str]:
    """``head`` as text when it is printable UTF-8 (perhaps cut inside its last character), else None."""
    for cut in range(4):
        try:
            text = head[:len(head) - cut].decode('utf-8')
        except UnicodeDecodeError:
            continue
        if all(c.isprintable() or c in '\r\n\t' for c in text):
            return text
        return None
    return None


def _require_end_marker(f, size: int, start: int, marker: bytes,
                        reason: str) -> None:
    begin = max(start, size - TAIL_BYTES)
    f.seek(begin)
    if marker not in f.read():
        raise _Bad(reason)


def _jpeg(f, size: int) -> Tuple[Tuple[int, int], bool]:
    """Walk the header segments to the first scan: frame size, EXIF orientation, then the end marker."""
    pos, shape, transposed = 2, None, False
    while True:
        f.seek(pos)
        seg = f.read(4)
        if len(seg) < 4:
            raise _Bad(f'truncated JPEG: the file ({size} bytes) ends inside '
                       'its header, before any image data')
        if seg[0] != 0xFF:
            raise _Bad(f'corrupt JPEG header: expected a marker (FF xx) at '
                       f'byte {pos}, found {seg[:2].hex(" ")}')
        kind = seg[1]
        if kind == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if kind in (0xD8, 0xD9):
            raise _Bad('corrupt JPEG header: a start/end-of-image marker '
                       'before any image data')
        if kind == 0x01 or 0xD0 <= kind <= 0xD7:  # markers without length
            pos += 2
            continue
        length = seg[2] << 8 | seg[3]
        if length < 2:
            raise _Bad(f'corrupt JPEG header: segment length {length} at '
                       f'byte {pos}')
        if kind in _JPEG_SOF or (kind == 0xE1 and shape is None):
            payload = f.read(min(length - 2, HEAD_BYTES * 16))
            if kind == 0xE1:
                transposed = _exif_transposes(payload)
            elif len(payload) < 5:
                raise _Bad(f'truncated JPEG: the file ({size} bytes) ends '
                           'inside its frame header, before any image data')
            else:
                shape = struct.unpack('>HH', payload[1:5])
        if kind == 0xDA:  # start of scan: compressed data follows
            if shape is None:
                raise _Bad('corrupt JPEG header: image data before any '
                           'frame header giving the image size')
            data_start = pos + 2 + length
            break
        pos += 2 + length
    if 0 in shape:
        raise _Bad(f'JPEG frame header gives size {shape[0]}x{shape[1]} '
                   '(HxW); expected both > 0')
    _require_end_marker(
        f, size, data_start, b'\xff\xd9',
        f'truncated JPEG: the file ({size} bytes) has no end-of-image '
        'marker (FF D9) after its image data; it was cut short, e.g. by an '
        'interrupted copy or download')
    return shape, transposed


def _exif_transposes(payload: bytes) -> bool:
    """Whether an APP1 payload holds EXIF orientation 5-8, which swaps height and width."""
    if not payload.startswith(b'Exif\x00\x00') or len(payload) < 14:
        return False
    tiff = payload[6:]
    endian = {b'II': '<', b'MM': '>'}.get(tiff[:2])
    if endian is None:
        return False
    offset = struct.unpack(endian + 'I', tiff[4:8])[0]
    tags = _ifd_tags(tiff, offset, endian, (_EXIF_ORIENTATION, ))
    return tags.get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8)


def _ifd_tags(buf: bytes, offset: int, endian: str,
              wanted: Sequence[int]) -> Dict[int, int]:
    """Integer values of the ``wanted`` tags of the TIFF directory at ``offset`` in ``buf`` (those it holds)."""
    found: Dict[int, int] = {}
    if offset + 2 > len(buf):
        return found
    count = struct.unpack(endian + 'H', buf[offset:offset + 2])[0]
    for i in range(count):
        entry = buf[offset + 2 + 12 * i:offset + 14 + 12 * i]
        if len(entry) < 12:
            break
        tag, kind = struct.unpack(endian + 'HH', entry[:4])
        if tag in wanted and kind in _TIFF_TYPES:
            fmt, width = _TIFF_TYPES[kind]
            found[tag] = struct.unpack(endian + fmt, entry[8:8 + width])[0]
    return found


def _png(f, head: bytes, size: int) -> Tuple[int, int]:
    """IHDR first, with a valid CRC and a non-zero size; an IEND chunk at the end."""
    if len(head) < 33:
        raise _Bad(f'truncated PNG: the file ({size} bytes) is shorter than '
                   'a PNG header (33 bytes)')
    if head[8:16] != b'\x00\x00\x00\x0dIHDR':
        raise _Bad('corrupt PNG: the first chunk is not the 13-byte IHDR '
                   'header')
    if zlib.crc32(head[12:29]) != struct.unpack('>I', head[29:33])[0]:
        raise _Bad('corrupt PNG: the IHDR header fails its CRC check')
    width, height = struct.unpack('>II', head[16:24])
    if not width or not height:
        raise _Bad(f'PNG header gives size {height}x{width} (HxW); expected '
                   'both > 0')
    _require_end_marker(
        f, size, 33, _PNG_IEND,
        f'truncated PNG: the file ({size} bytes) has no IEND chunk at its '
        'end; it was cut short, e.g. by an interrupted copy or download')
    return height, width


def _bmp(head: bytes, size: int) -> Tuple[int, int]:
    """Header sizes, and for uncompressed pixels that the file holds all rows."""
    if len(head) < 26:
        raise _Bad(f'truncated BMP: the file ({size} bytes) is shorter than '
                   'its header')
    declared, data_offset, dib = struct.unpack('<I4xII', head[2:18])
    if dib == 12:  # OS/2 BITMAPCOREHEADER
        width, height, bits = struct.unpack('<HH2xH', head[18:26])
        compression = 0
    elif dib >= 40 and len(head) >= 34:
        width, height, bits, compression = struct.unpack('<ii2xHI',
                                                         head[18:34])
    else:
        raise _Bad(f'corrupt BMP header: unknown info header size {dib}')
    height = abs(height)  # negative: rows stored top-down
    if width <= 0 or height == 0:
        raise _Bad(f'BMP header gives size {height}x{width} (HxW); expected '
                   'both > 0')
    if declared > size:
        raise _Bad(f'truncated BMP: its header declares {declared} bytes, '
                   f'the file has {size}')
    needed = data_offset
    if compression in (0, 3) and bits:  # BI_RGB, BI_BITFIELDS
        needed += (bits * width + 31) // 32 * 4 * height
    if needed > size:
        raise _Bad(f'truncated BMP: {height}x{width} pixels need {needed} '
                   f'bytes, the file has {size}')
    return height, width


def _webp(head: bytes, size: int) -> Tuple[int, int]:
    """RIFF length against the file size; the size from the VP8, VP8L or VP8X header."""
    if len(head) < 30:
        raise _Bad(f'truncated WebP: the file ({size} bytes) is shorter '
                   'than its header')
    declared = struct.unpack('<I', head[4:8])[0] + 8
    if declared > size:
        raise _Bad(f'truncated WebP: its RIFF header declares {declared} '
                   f'bytes, the file has {size}')
    chunk = head[12:16]
    if chunk == b'VP8 ' and head[23:26] == b'\x9d\x01\x2a':
        width, height = (v & 0x3FFF for v in struct.unpack('<HH',
                                                           head[26:30]))
    elif chunk == b'VP8L' and head[20] == 0x2F:
        bits = struct.unpack('<I', head[21:25])[0]
        width, height = (bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1
    elif chunk == b'VP8X':
        width = int.from_bytes(head[24:27], 'little') + 1
        height = int.from_bytes(head[27:30], 'little') + 1
    else:
        raise _Bad(f'corrupt WebP: unknown first chunk {chunk!r} or bad '
                   'frame header')
    if not width or not height:
        raise _Bad(f'WebP header gives size {height}x{width} (HxW); '
                   'expected both > 0')
    return height, width


def _tiff(f, head: bytes, size: int) -> Tuple[int, int]:
    """The first image directory lies inside the file and gives width and height."""
    endian = '<' if head[:2] == b'II' else '>'
    offset = struct.unpack(endian + 'I', head[4:8])[0]
    if not 8 <= offset <= size - 2:
        raise _Bad(f'truncated TIFF: its first image directory at byte '
                   f'{offset} lies outside the {size}-byte file')
    f.seek(offset)
    count = struct.unpack(endian + 'H', f.read(2))[0]
    directory = f.read(12 * count)
    if len(directory) < 12 * count:
        raise _Bad(f'truncated TIFF: the file ({size} bytes) ends inside its '
                   'first image directory')
    tags = _ifd_tags(struct.pack(endian + 'H', count) + directory, 0,
                     endian, (256, 257))
    width, height = tags.get(256, 0), tags.get(257, 0)
    if not width or not height:
        raise _Bad('corrupt TIFF: its first image directory gives no '
                   'width and height')
    return height, width


def read_npy_header(path: str) -> Tuple[Tuple[int, ...], np.dtype]:
    """A ``.npy`` file's (shape, dtype), checking the file holds all the data the header announces."""
    try:
        size = os.path.getsize(path)
        with open(path, 'rb') as f:
            magic = f.read(6)
    except OSError as err:
        raise BadFileError(path, f'cannot be read ({err.strerror or err})') \
            from err
    if size == 0:
        raise BadFileError(path, 'empty file (0 bytes); expected a .npy '
                           'array')
    if magic != b'\x93NUMPY':
        text = _as_text(magic)
        start = repr(text) if text is not None else magic.hex(' ')
        raise BadFileError(path, f'not a .npy array: starts with {start}, '
                           'not the .npy signature (\\x93NUMPY)')
    try:
        # A memory map reads the header only and refuses a file shorter than
        # the array it describes.
        array = np.load(path, mmap_mode='r', allow_pickle=False)
        shape, dtype = array.shape, array.dtype
        del array
    except (OSError, ValueError, EOFError) as err:
        raise BadFileError(path, f'truncated or corrupt .npy array ({err})') \
            from err
    return shape, dtype
