"""The classic worked examples of convolution (a 6x6 image, a 3x3 kernel; then three colour channels), rebuilt
through the public layer API."""
import numpy as np

from ..layers import Conv2D
from .arithmetic import explain_conv, number

# Only rows 0-2 make the first output row; rows 3-5 complete the image with any values.
EXAMPLE_IMAGE = np.array([[3, 4, 6, 5, 1, 3],
                          [5, 3, 2, 4, 3, 2],
                          [5, 4, 3, 3, 2, 6],
                          [1, 2, 3, 4, 5, 6],
                          [6, 5, 4, 3, 2, 1],
                          [2, 4, 6, 1, 3, 5]], dtype=float)
EXAMPLE_KERNEL = np.array([[1, 0, 1], [1, 0, 1], [1, 0, 1]], dtype=float)


def example_layer(channels=1):
    """Conv2D(1, 3, use_bias=False) with the example's kernel on every channel."""
    layer = Conv2D(1, 3, use_bias=False, name="example_conv", dtype="float64")
    layer.build((None, 6, 6, channels))
    layer.set_weights([np.repeat(EXAMPLE_KERNEL[:, :, None, None], channels, axis=2)])
    return layer


def grayscale_example():
    """The 6x6 image, the 3x3 kernel, each value of the first output row step by step."""
    layer = example_layer()
    image = EXAMPLE_IMAGE[:, :, None]
    output = layer(image[None])[0, :, :, 0]
    lines = ["A 6x6 image and a 3x3 kernel give a 4x4 output: (6 + 2*0 - 3) / 1 + 1 = 4.", "",
             "image rows 0-2:", *("  " + " ".join(number(v) for v in row) for row in EXAMPLE_IMAGE[:3]),
             "kernel:", *("  " + " ".join(number(v) for v in row) for row in EXAMPLE_KERNEL), ""]
    for col in range(4):
        lines += explain_conv(layer, image, 0, col).lines + [""]
    lines.append("first output row: " + " ".join(number(v) for v in output[0]))
    return "\n".join(lines)


def colour_example():
    """A 6x6x3 image uses one 3x3 kernel per channel; the three sums add up to one output value."""
    layer = example_layer(channels=3)
    image = np.stack([EXAMPLE_IMAGE, EXAMPLE_IMAGE[::-1], EXAMPLE_IMAGE[:, ::-1]], axis=-1)
    lines = ["A colour (6x6x3) image: one 3x3 kernel per channel, the three results summed into one 4x4 map.",
             "32 filters on an RGB input would hold 32 x 3 = 96 two-dimensional kernels.", ""]
    return "\n".join(lines + explain_conv(layer, image, 0, 0).lines)
