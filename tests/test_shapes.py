"""Output sizes and the S5 diagnostic; layer shapes against the formulas and against real forward passes."""
import itertools
import math

import numpy as np
import pytest

import clearcnn
from clearcnn import ClearCNNError, output_size, size_report
from clearcnn.layers import AveragePooling2D, Conv2D, Dense, Flatten, MaxPooling2D

# --- SPEC S5: the article's stride example --------------------------------------------------------

def test_seven_pixels_kernel_3_stride_2_gives_3():
    assert output_size(7, 3, 2, 0) == 3
    assert output_size(7, 3, 2, 0, strict=True) == 3
    assert size_report(7, 3, 2, 0).uncovered == []
    assert size_report(7, 3, 2, 0).fixes() == []


def test_six_pixels_kernel_3_stride_2_is_floored_and_explained():
    assert output_size(6, 3, 2, 0) == 2  # Keras floors 2.5
    report = size_report(6, 3, 2, 0)
    assert report.exact == 2.5 and report.size == 2 and not report.fits
    assert report.uncovered == [5]  # windows read 0-2 and 2-4: index 5 is never read
    message = report.message()
    assert "2.5" in message
    assert "(6 + 2*0 - 3) / 2 + 1" in message  # the formula with the numbers filled in
    assert "5" in message.split("2.5", 1)[1]  # names the uncovered row/column
    fixes = report.fixes()
    assert len(fixes) == 2
    assert "(0, 1)" in fixes[0] and "same" in fixes[0]  # pad one pixel at the end...
    assert output_size(6, 3, 2, (0, 1), strict=True) == 3  # ...which really fits
    assert "7" in fixes[1] and "5" in fixes[1]  # or an input of 7 (or 5) pixels...
    assert output_size(7, 3, 2, 0, strict=True) == 3 and output_size(5, 3, 2, 0, strict=True) == 2
    for fix in fixes:
        assert fix in message


def test_strict_raises_with_the_diagnostic():
    with pytest.raises(ClearCNNError, match=r"2\.5") as info:
        output_size(6, 3, 2, 0, strict=True)
    assert "(0, 1)" in str(info.value)


@pytest.mark.parametrize("strict", [False, True])
def test_kernel_larger_than_its_input_raises(strict):
    with pytest.raises(ClearCNNError, match="larger"):
        output_size(3, 5, 1, 0, strict=strict)
    with pytest.raises(ClearCNNError, match="larger"):
        output_size(5, 3, 1, 0, dilation=3, strict=strict)  # dilated span 7 > 5
    assert output_size(3, 5, 1, 1, strict=strict) == 1  # padded to 5: fits exactly
    assert not size_report(3, 5).fits


def brute_force(n, k, s, d, before, after):
    """Output count and uncovered input indices by sliding a window along a padded line."""
    positions = []
    start = 0
    while start + (k - 1) * d < n + before + after:
        positions.append(start)
        start += s
    read = {p + t * d - before for p in positions for t in range(k)}
    return len(positions), [i for i in range(n) if i not in read]


def test_output_size_agrees_with_sliding_a_window():
    cases = 0
    for n, k, s, d, before, after in itertools.product(range(1, 11), range(1, 5), range(1, 4), range(1, 3),
                                                       range(0, 3), range(0, 2)):
        count, uncovered = brute_force(n, k, s, d, before, after)
        if count == 0:
            with pytest.raises(ClearCNNError):
                output_size(n, k, s, (before, after), d)
            continue
        cases += 1
        assert output_size(n, k, s, (before, after), d) == count
        report = size_report(n, k, s, (before, after), d)
        assert report.uncovered == uncovered
        divides = (n + before + after - (k - 1) * d - 1) % s == 0
        assert report.fits == divides
        if divides:
            assert output_size(n, k, s, (before, after), d, strict=True) == count
        else:
            with pytest.raises(ClearCNNError):
                output_size(n, k, s, (before, after), d, strict=True)
            assert len(report.fixes()) == 2
    assert cases > 1000


def test_public_api_exports():
    assert clearcnn.output_size is output_size
    assert issubclass(clearcnn.ClearCNNError, ValueError)


# --- layer shapes ---------------------------------------------------------------------------------

def test_article_six_by_six_with_three_by_three_gives_four_by_four():  # S1
    assert Conv2D(1, 3)(np.zeros((1, 6, 6, 1))).shape == (1, 4, 4, 1)


@pytest.mark.parametrize("n, k, s, d", [(n, k, s, d) for n in (1, 4, 5, 6, 7, 9) for k in (1, 2, 3, 4, 5)
                                       for s in (1, 2, 3) for d in (1, 2)])
def test_same_padding_gives_ceil_n_over_s(n, k, s, d):
    layer = Conv2D(1, (k, 1), strides=(s, 1), dilation_rate=(d, 1), padding="same")
    expected = math.ceil(n / s)
    assert layer.compute_output_shape((None, n, 3, 2)) == (None, expected, 3, 1)
    assert layer(np.zeros((1, n, 3, 2))).shape == (1, expected, 3, 1)
    pool = MaxPooling2D((k, 1), strides=(s, 1), padding="same")
    assert pool(np.zeros((1, n, 3, 2))).shape == (1, expected, 3, 2)


@pytest.mark.parametrize("make, shape, expected", [
    (lambda: Conv2D(4, (3, 2), strides=(2, 1)), (2, 7, 6, 3), (2, 3, 5, 4)),
    (lambda: Conv2D(4, 3, padding=((1, 2), (0, 3))), (2, 5, 5, 3), (2, 6, 6, 4)),
    (lambda: Conv2D(4, 3, padding=(1, 2)), (2, 5, 5, 3), (2, 5, 7, 4)),
    (lambda: Conv2D(4, 3, padding=2), (2, 5, 5, 3), (2, 7, 7, 4)),
    (lambda: Conv2D(4, 3, dilation_rate=(2, 3)), (2, 9, 9, 3), (2, 5, 3, 4)),
    (lambda: MaxPooling2D(3, strides=1), (2, 30, 30, 6), (2, 28, 28, 6)),
    (lambda: AveragePooling2D((2, 3), strides=(1, 2)), (2, 5, 7, 3), (2, 4, 3, 3)),
    (lambda: Flatten(), (2, 22, 22, 16), (2, 7744)),
    (lambda: Dense(120), (2, 7744), (2, 120)),
])
def test_layer_output_shapes(make, shape, expected):
    layer = make()
    assert layer(np.zeros(shape, np.float32)).shape == expected
    assert layer.compute_output_shape((None, *shape[1:])) == (None, *expected[1:])
    assert layer.output_shape == (None, *expected[1:])


def test_unknown_spatial_size_gives_unknown_output_size():
    assert Conv2D(4, 3).compute_output_shape((None, None, None, 3)) == (None, None, None, 4)


def test_seed_network_shapes_and_parameter_counts():
    """S8/S9: the article's network, with the correct shapes (the article forgets the +1)."""
    layers = [Conv2D(6, kernel_size=(3, 3), padding="valid", activation="relu", strides=1),
              MaxPooling2D(pool_size=(3, 3), strides=1),
              Conv2D(16, kernel_size=(5, 5), padding="valid", activation="relu", strides=1),
              MaxPooling2D(pool_size=(3, 3), strides=1),
              Flatten(), Dense(120, activation="relu"), Dense(3)]
    x = np.zeros((1, 32, 32, 3), np.float32)
    shapes = []
    for layer in layers:
        x = layer(x)
        shapes.append(x.shape[1:])
    assert shapes == [(30, 30, 6), (28, 28, 6), (24, 24, 16), (22, 22, 16), (7744,), (120,), (3,)]
    counts = [layer.count_params() for layer in layers]
    # (kh*kw*in + 1) * out for convs, (in + 1) * units for dense layers
    assert counts == [(3 * 3 * 3 + 1) * 6, 0, (5 * 5 * 6 + 1) * 16, 0, 0, (7744 + 1) * 120, (120 + 1) * 3]
    assert counts == [168, 0, 2416, 0, 0, 929400, 363] and sum(counts) == 932347


def test_layer_size_reports_name_uncovered_pixels():
    layer = Conv2D(1, 3, strides=2)
    layer(np.zeros((1, 6, 8, 1)))
    height, width = layer.size_reports((6, 8))
    assert height.uncovered == [5] and height.size == 2
    assert width.uncovered == [7] and width.size == 3
    same = Conv2D(1, 3, strides=2, padding="same")
    assert [r.uncovered for r in same.size_reports((6, 8))] == [[], []]
