"""clearcnn: convolutional neural networks you can read, run fast and see inside.

Its namespaces mirror Keras 3's, so that Keras CNN code runs with `import clearcnn as keras`: keras.Input,
keras.Sequential, keras.layers, keras.models, keras.utils, keras.callbacks, keras.optimizers (and
keras.optimizers.schedules), keras.initializers, keras.regularizers, keras.constraints, keras.losses,
keras.metrics, keras.datasets, keras.saving. A Keras name that clearcnn lacks raises ClearCNNError naming it.
"""
from . import (
    _namespaces,
    callbacks,
    constraints,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    regularizers,
    saving,
    utils,
)
from .errors import ClearCNNError
from .layers import Input
from .models import Sequential, load_model
from .ops.shapes import output_size, size_report

__version__ = "0.1.0"
__getattr__ = _namespaces.missing(__name__)
