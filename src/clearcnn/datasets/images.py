"""Image folders, one sub-folder per class, after keras.utils.image_dataset_from_directory.

    main_directory/
        class_a/  a_1.jpg  a_2.png ...
        class_b/  b_1.jpg ...

Class names are the sorted sub-folder names and label i is the i-th name. Files ending in .bmp, .gif,
.jpeg, .jpg or .png (any case) count as images, searched recursively; other files are ignored, as in
Keras. Each real folder is searched once, so symlink loops end. Entries with an image name that are not
regular files (FIFOs, sockets, devices, broken links) and folders that cannot be listed are skipped with
one warning; a file that cannot be read or decoded raises ClearCNNError naming it when its batch is read.
Pillow decodes and resizes; it is the optional extra `pip install "clearcnn[images]"`. Only the four formats
above are decoded, and images larger than Pillow's MAX_IMAGE_PIXELS are refused as decompression bombs.
"""
import io
import numbers
import os
import sys
import warnings

import numpy as np

from ..errors import ClearCNNError, check_int, check_memory, fail
from ..utils.rng import random_generator
from ._files import is_regular, open_regular

FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_PILLOW_FORMATS = ["BMP", "GIF", "JPEG", "PNG"]  # what FORMATS name: Pillow may not guess others (EPS runs Ghostscript)
CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}
_PILLOW_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
# Keras's interpolation names that Pillow has ("area" is Pillow's box filter, "lanczos3" its Lanczos).
_RESAMPLING = {"bilinear": "BILINEAR", "nearest": "NEAREST", "bicubic": "BICUBIC", "area": "BOX", "lanczos3": "LANCZOS"}
LABEL_MODES = ("int", "categorical", "binary", None)


class ImageDataset:
    """Batches `(x, y)` read from image files on demand: only one batch of images is in memory at a time.

    x is float32 (batch, height, width, channels) with values 0-255; y depends on `label_mode`: "int" int32
    (batch,), "categorical" one-hot float32 (batch, classes), "binary" float32 (batch, 1); with
    label_mode None the dataset yields x alone. With `batch_size=None` it yields single images.
    With `shuffle=True` each pass (epoch) visits the files in a new order, reproducible from `seed`.
    Attributes: `class_names`, `file_paths`, `labels` (int32 class indices, or None).
    """

    def __init__(self, file_paths, labels, class_names, label_mode="int", color_mode="rgb", batch_size=32,
                 image_size=(256, 256), shuffle=False, seed=None, interpolation="bilinear",
                 crop_to_aspect_ratio=False):
        self.file_paths, self.class_names = list(file_paths), class_names
        self.labels = None if label_mode is None else np.asarray(labels, dtype=np.int32)
        self.label_mode, self.color_mode, self.batch_size = label_mode, color_mode, batch_size
        self.image_size, self.interpolation = tuple(image_size), interpolation
        self.crop_to_aspect_ratio, self.shuffle = crop_to_aspect_ratio, shuffle
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        """Number of batches per pass (the last one may be smaller)."""
        if self.batch_size is None:
            return len(self.file_paths)
        return -(-len(self.file_paths) // self.batch_size)

    def cardinality(self):
        """Number of batches per pass, as tf.data's `cardinality()`."""
        return len(self)

    def __iter__(self):
        count = len(self.file_paths)
        order = self._rng.permutation(count) if self.shuffle else np.arange(count)
        step = self.batch_size or 1
        for start in range(0, count, step):
            chosen = order[start:start + step]
            x = read_images([self.file_paths[i] for i in chosen], self.image_size, self.color_mode,
                            self.interpolation, self.crop_to_aspect_ratio)
            batch = x if self.label_mode is None else (x, self._encode(self.labels[chosen]))
            yield batch if self.batch_size else _first(batch)

    def _encode(self, labels):
        if self.label_mode == "categorical":
            return np.eye(len(self.class_names), dtype=np.float32)[labels]
        if self.label_mode == "binary":
            return labels.astype(np.float32)[:, None]
        return labels

    def __repr__(self):
        h, w = self.image_size
        classes = "" if self.class_names is None else f", {len(self.class_names)} classes"
        return (f"<ImageDataset {len(self.file_paths)} files{classes}, {len(self)} batches of "
                f"{self.batch_size} x ({h}, {w}, {CHANNELS[self.color_mode]})>")


def _first(batch):
    return tuple(part[0] for part in batch) if isinstance(batch, tuple) else batch[0]


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                 color_mode="rgb", batch_size=32, image_size=(256, 256), shuffle=True,
                                 seed=None, validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, crop_to_aspect_ratio=False, verbose=True):
    """An ImageDataset over a folder with one sub-folder of images per class, as in Keras 3.

    `labels`: "inferred" (from the sub-folders), None, or a list of integer labels, one per image file
    in sorted `os.walk` order; without inferred labels every image under `directory` counts, in a
    sub-folder or not, as in Keras. `label_mode`: "int", "categorical", "binary" (exactly two classes) or None.
    `color_mode`: "rgb", "grayscale" or "rgba" (3, 1 or 4 channels). `image_size`: (height, width) every
    image is resized to. `validation_split` in (0, 1) with `subset` "training", "validation" or "both"
    (which returns the pair): the file list is shuffled with `seed` (required when shuffling) and the
    last fraction is kept for validation, so two calls with the same seed give disjoint subsets.
    `interpolation`: "bilinear", "nearest", "bicubic", "area" or "lanczos3". `crop_to_aspect_ratio`:
    crop the largest centred window of the target aspect ratio before resizing, instead of stretching.
    An image_size and batch_size whose float32 batch would not fit in the machine's memory are refused.

    >>> train, val = image_dataset_from_directory("photos", validation_split=0.2, subset="both",
    ...                                           seed=1, image_size=(32, 32))  # doctest: +SKIP
    Found 300 files belonging to 3 classes.
    Using 240 files for training.
    Using 60 files for validation.
    """
    where = "image_dataset_from_directory"
    if isinstance(labels, np.ndarray):
        labels = labels.tolist()
    if not (labels is None or isinstance(labels, (list, tuple)) or labels == "inferred"):
        fail(where, "labels", labels, '"inferred", None, or a list of integer labels, one per image file')
    if class_names is not None and labels != "inferred":
        fail(where, "class_names", class_names, 'None unless labels="inferred"')
    if class_names is not None and not (isinstance(class_names, (list, tuple))
                                        and all(isinstance(name, str) for name in class_names)):
        fail(where, "class_names", class_names, "None or a list of sub-folder names")
    if label_mode not in LABEL_MODES:
        fail(where, "label_mode", label_mode, 'one of "int", "categorical", "binary" or None')
    if labels is None or label_mode is None:
        labels = label_mode = None
    image_size = _check_common(where, image_size, color_mode, interpolation)
    interpolation = interpolation.lower()
    if batch_size is not None:
        batch_size = check_int(batch_size, where, "batch_size", "a positive integer such as 32, or None for single "
                               "images", low=1)
    _check_split(where, validation_split, subset, shuffle, seed)
    if seed is None:
        seed = int(random_generator().integers(1_000_000))
    seed = check_int(seed, where, "seed", "None or an integer from 0 to 2**32 - 1", high=2 ** 32)

    paths, indices, class_names = index_directory(directory, labels, class_names, follow_links, where)
    batch = (min(batch_size or 1, len(paths)), *image_size, CHANNELS[color_mode])
    check_memory(where, "one batch of images", batch, np.float32, "pass a smaller image_size or batch_size")
    if verbose:
        kind = "" if labels is None else f" belonging to {len(class_names)} classes"
        print(f"Found {len(paths)} files{kind}.")
    if label_mode == "binary" and len(class_names) != 2:
        fail(where, "label_mode", label_mode, f'"int" or "categorical" for {len(class_names)} classes '
             f'({", ".join(class_names)}); "binary" needs exactly 2')
    if shuffle:  # the same permutation as Keras's, so the same seed gives the same file order
        order = list(range(len(paths)))
        np.random.RandomState(seed).shuffle(order)
        paths = [paths[i] for i in order]
        indices = None if indices is None else indices[order]

    options = dict(label_mode=label_mode, color_mode=color_mode, batch_size=batch_size,
                   image_size=image_size, seed=seed, interpolation=interpolation,
                   crop_to_aspect_ratio=crop_to_aspect_ratio)
    if not validation_split:
        return ImageDataset(paths, indices, class_names, shuffle=shuffle, **options)
    cut = len(paths) - int(validation_split * len(paths))
    parts = {"training": slice(None, cut), "validation": slice(cut, None)}
    datasets = {}
    for name in ("training", "validation") if subset == "both" else (subset,):
        chosen = paths[parts[name]]
        if verbose:
            print(f"Using {len(chosen)} files for {name}.")
        if not chosen:
            fail(where, "validation_split", validation_split, f"a fraction that leaves images for both subsets "
                 f"of {len(paths)} files: between {1 / len(paths):.3g} and {1 - 1 / len(paths):.3g}")
        # Keras reshuffles the training data each epoch but, with subset="both", not the validation data.
        reshuffle = shuffle and not (subset == "both" and name == "validation")
        datasets[name] = ImageDataset(chosen, None if indices is None else indices[parts[name]], class_names,
                                      shuffle=reshuffle, **options)
    return (datasets["training"], datasets["validation"]) if subset == "both" else datasets[subset]


def load_image_folder(directory, image_size=(32, 32), color_mode="rgb", interpolation="bilinear",
                      verbose=True, progress=True):
    """Read a small folder of class sub-folders into memory at once: (x, y, class_names).

    x float32 (N, height, width, channels) with values 0-255, y int32 (N,) class indices, files in sorted
    order (no shuffling). With `verbose` it prints the file count and, when `progress` is set and stderr
    is a terminal, a running count of the images read. A folder whose x would not fit in the machine's
    memory is refused before any image is read; for large folders use image_dataset_from_directory,
    which reads one batch at a time.
    """
    where = "load_image_folder"
    image_size = _check_common(where, image_size, color_mode, interpolation)
    paths, labels, class_names = index_directory(directory, "inferred", None, False, where)
    check_memory(where, "the array of all images", (len(paths), *image_size, CHANNELS[color_mode]), np.float32,
                 "pass a smaller image_size, or use image_dataset_from_directory, which reads one batch at a time")
    if verbose:
        print(f"Found {len(paths)} files belonging to {len(class_names)} classes.")
    show = progress and verbose and getattr(sys.stderr, "isatty", lambda: False)()
    x = read_images(paths, image_size, color_mode, interpolation.lower(), progress=_counter(len(paths)) if show
                    else None, where=where)
    return x, labels, class_names


def index_directory(directory, labels, class_names, follow_links, where):
    """The image files under `directory` in sorted order -> (paths, int32 labels or None, class_names)."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        fail(where, "directory", directory, "an existing folder holding one sub-folder of images per class")
    if labels == "inferred":
        found = sorted(name for name in os.listdir(directory)
                       if os.path.isdir(os.path.join(directory, name)) and not name.startswith("."))
        if not found:
            fail(where, "directory", directory, "a folder with one sub-folder of images per class, such as "
                 f"{os.path.join(directory, 'cats', '1.jpg')!r}; this folder has no sub-folders")
        if class_names is not None:
            unknown = [name for name in class_names if name not in found]
            if unknown:
                fail(where, "class_names", class_names, f"names of sub-folders of {directory!r}: {found}")
        subfolders = found if class_names is None else list(class_names)
    else:
        subfolders = [""]
    paths, indices, skipped = [], [], []
    for index, subfolder in enumerate(subfolders):
        found = _image_files(os.path.join(directory, subfolder), follow_links, skipped)
        paths += found
        indices += [index] * len(found)
    if skipped:
        shown = ", ".join(map(repr, skipped[:5])) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        warnings.warn(f"{where}: skipped {len(skipped)} entries under {directory!r} that are not regular files "
                      f"(FIFOs, sockets, devices, broken links) or folders that cannot be listed: {shown}.",
                      stacklevel=3)
    if not paths:
        searched = f"its sub-folders {', '.join(subfolders)} hold none" if subfolders != [""] else "it holds none"
        fail(where, "directory", directory, f"a folder of images ({', '.join(FORMATS)}, any case), but it is "
             f"an image folder with no images: {searched}")
    if labels is None:
        return paths, None, None
    if labels == "inferred":
        return paths, np.asarray(indices, dtype=np.int32), list(subfolders)
    bad = [label for label in labels if isinstance(label, bool) or not isinstance(label, (int, np.integer))
           or not 0 <= label < 2 ** 31]
    if bad:
        raise ClearCNNError(f"{where}: argument `labels` must hold integer labels from 0 to 2**31 - 1, one per "
                            f"image file; received the label {bad[0]!r:.40}.")
    if len(labels) != len(paths):
        raise ClearCNNError(f"{where}: argument `labels` must hold one label per image file; received "
                            f"{len(labels)} labels for the {len(paths)} image files found in {directory!r}.")
    return paths, np.asarray(labels, dtype=np.int32), [str(label) for label in sorted(set(labels))]


def _image_files(folder, follow_links, skipped):
    """The image files under `folder` in Keras's order (sorted by folder path, then by name).

    Each real folder, known by (device, inode), is walked once, so a symlink loop ends and a folder
    linked twice counts once. Entries that are not regular files, and folders that cannot be listed,
    are appended to `skipped`.
    """
    seen, walked, images = set(), [], []
    for root, folders, files in os.walk(folder, followlinks=follow_links,
                                        onerror=lambda error: skipped.append(error.filename)):
        info = os.stat(root)
        if (info.st_dev, info.st_ino) in seen:
            folders.clear()
            continue
        seen.add((info.st_dev, info.st_ino))
        folders.sort()  # the first path to a folder linked twice is the first in sorted order
        walked.append((root, files))
    for root, files in sorted(walked, key=lambda entry: entry[0]):
        for name in sorted(files):
            if name.lower().endswith(FORMATS):
                path = os.path.join(root, name)
                (images if is_regular(path) else skipped).append(path)
    return images


def read_images(paths, image_size, color_mode, interpolation="bilinear", crop_to_aspect_ratio=False,
                progress=None, where="image_dataset_from_directory"):
    """Decode, convert and resize image files -> float32 (len(paths), height, width, channels), 0-255."""
    image = _pillow(where)
    resample = getattr(getattr(image, "Resampling", image), _RESAMPLING[interpolation])
    height, width = image_size
    out = np.empty((len(paths), height, width, CHANNELS[color_mode]), dtype=np.float32)
    for i, path in enumerate(paths):
        try:
            with open_regular(path) as file:  # from memory, a read of the length a damaged chunk declares (which
                data = io.BytesIO(file.read())  # Pillow makes to skip it) allocates what the file holds, no more
            with image.open(data, formats=_PILLOW_FORMATS) as img:
                area = img.width * img.height  # Pillow only warns up to twice its limit; the limit is the rule
                if image.MAX_IMAGE_PIXELS and area > image.MAX_IMAGE_PIXELS:
                    raise image.DecompressionBombError(f"{img.width} x {img.height} = {area} pixels is more than "
                                                       f"PIL.Image.MAX_IMAGE_PIXELS ({image.MAX_IMAGE_PIXELS})")
                if img.mode in ("P", "PA"):  # palette images: expand, keeping any transparency
                    img = img.convert("RGBA")
                img = img.convert(_PILLOW_MODES[color_mode])
                if crop_to_aspect_ratio:
                    img = img.crop(_crop_box(img.size, image_size))
                pixels = np.asarray(img.resize((width, height), resample))
        except Exception as exc:  # Pillow signals damaged files with many exception types
            raise ClearCNNError(f"{where}: cannot read the image file {os.fspath(path)!r} "
                                f"({type(exc).__name__}: {exc}); it is corrupt, not an image or too large: "
                                "replace it or remove it from the folder.") from exc
        out[i] = pixels.reshape(height, width, -1)
        if progress:
            progress(i + 1)
    return out


def _crop_box(size, image_size):
    """The largest centred (left, upper, right, lower) window with the target aspect ratio (Keras's smart_resize)."""
    width, height = size
    target_height, target_width = image_size
    crop_height = min(height, int(width * target_height / target_width))
    crop_width = min(width, int(height * target_width / target_height))
    top, left = (height - crop_height) // 2, (width - crop_width) // 2
    return left, top, left + crop_width, top + crop_height


def _counter(total):
    """A minimal progress line on stderr: 'Reading images: 120/500'."""
    step = max(1, total // 100)

    def show(done):
        if done % step == 0 or done == total:
            sys.stderr.write(f"\rReading images: {done}/{total}" + ("\n" if done == total else ""))
            sys.stderr.flush()
    return show


def _pillow(where):
    try:
        from PIL import Image
    except ImportError as exc:
        raise ClearCNNError(f'{where}: reading image files needs Pillow, which is not installed; '
                            f'install it with: pip install "clearcnn[images]"') from exc
    return Image


def _check_common(where, image_size, color_mode, interpolation):
    if not isinstance(color_mode, str) or color_mode not in CHANNELS:
        fail(where, "color_mode", color_mode, '"rgb", "grayscale" or "rgba"')
    if not isinstance(interpolation, str) or interpolation.lower() not in _RESAMPLING:
        fail(where, "interpolation", interpolation, f"one of {', '.join(map(repr, _RESAMPLING))}")
    if isinstance(image_size, (int, np.integer)):
        image_size = (image_size, image_size)
    if not (isinstance(image_size, (list, tuple)) and len(image_size) == 2
            and all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0 for n in image_size)):
        fail(where, "image_size", image_size, "a pair of positive integers (height, width) such as (256, 256)")
    return tuple(int(n) for n in image_size)


def _check_split(where, validation_split, subset, shuffle, seed):
    if validation_split and not (isinstance(validation_split, numbers.Real) and 0 < validation_split < 1):
        fail(where, "validation_split", validation_split, "a fraction between 0 and 1 (exclusive) such as 0.2")
    if subset not in ("training", "validation", "both", None):
        fail(where, "subset", subset, '"training", "validation", "both" or None')
    if subset and not validation_split:
        fail(where, "subset", subset, "None unless validation_split is set (for example validation_split=0.2)")
    if validation_split and not subset:
        fail(where, "subset", subset, '"training", "validation" or "both" when validation_split is set')
    if validation_split and shuffle and seed is None:
        fail(where, "seed", seed, "an integer when validation_split is used with shuffle=True, so that the "
             "training and validation subsets do not overlap")
