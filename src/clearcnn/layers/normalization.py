"""BatchNormalization, with Keras 3's arguments, weights and training/inference behaviour."""
import threading

from .. import constraints, initializers, ops, regularizers
from ..errors import ClearCNNError, check_bool, check_number, fail
from ..ops.shapes import is_int
from .base import Layer


class BatchNormalization(Layer):
    """Normalises each channel (the last axis): y = (x - mean) / sqrt(variance + epsilon) * gamma + beta.

    Training mode (fit, train_on_batch, or a call with training=True) uses the batch's own mean and variance
    (biased: divided by the count) and then moves the moving statistics towards them, as Keras does:
        moving_mean = moving_mean * momentum + mean * (1 - momentum), the same for moving_variance.
    Inference mode (predict, evaluate) uses the moving statistics. A layer with trainable=False always runs
    in inference mode and its statistics stay as they are, as in Keras 3 (fine-tuning).

    Shape: any input with the channels last, (batch, ..., channels), to the same shape; after Conv2D the
    statistics are taken over the batch, the height and the width, after Dense over the batch.
    Weights, in Keras's order: gamma (scale=True), beta (center=True), moving_mean, moving_variance; the
    moving statistics are non-trainable, so no optimizer changes them.

    >>> from clearcnn.models import Sequential
    >>> from clearcnn.layers import Dense
    >>> model = Sequential([Dense(4, input_shape=(3,)), BatchNormalization()])
    >>> [w.name for w in model.layers[1].weights]
    ['batch_normalization/gamma', 'batch_normalization/beta', 'batch_normalization/moving_mean', \
'batch_normalization/moving_variance']
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 renorm=False, renorm_clipping=None, renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        where = self.where
        if not is_int(axis):
            fail(where, "axis", axis, "an integer naming the channel axis, -1 (the last)")
        self.axis = int(axis)
        self.momentum = check_number(momentum, where, "momentum", "a number in [0, 1] such as 0.99",
                                     lambda v: 0 <= v <= 1)
        self.epsilon = check_number(epsilon, where, "epsilon", "a positive number such as 0.001", lambda v: v > 0)
        self.center = check_bool(center, where, "center")
        self.scale = check_bool(scale, where, "scale")
        self.beta_initializer = initializers.get(beta_initializer, where, "beta_initializer")
        self.gamma_initializer = initializers.get(gamma_initializer, where, "gamma_initializer")
        self.moving_mean_initializer = initializers.get(moving_mean_initializer, where, "moving_mean_initializer")
        self.moving_variance_initializer = initializers.get(moving_variance_initializer, where,
                                                            "moving_variance_initializer")
        self.beta_regularizer = regularizers.get(beta_regularizer, where, "beta_regularizer")
        self.gamma_regularizer = regularizers.get(gamma_regularizer, where, "gamma_regularizer")
        self.beta_constraint = constraints.get(beta_constraint, where, "beta_constraint")
        self.gamma_constraint = constraints.get(gamma_constraint, where, "gamma_constraint")
        if renorm_clipping is not None:
            fail(where, "renorm_clipping", renorm_clipping, "None (batch renormalisation is not supported yet)")
        if check_bool(renorm, where, "renorm"):
            fail(where, "renorm", renorm, "False (batch renormalisation is not supported yet)")
        self.renorm_momentum = check_number(renorm_momentum, where, "renorm_momentum",
                                            "a number in [0, 1] such as 0.99", lambda v: 0 <= v <= 1)
        if check_bool(synchronized, where, "synchronized"):
            fail(where, "synchronized", synchronized, "False (Keras synchronises only on TensorFlow across "
                 "devices; clearcnn runs on one)")
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None
        # Training swaps in new moving statistics (never writes into the arrays) and predictions read the pair
        # under this lock, so a thread that predicts while another trains sees one consistent pair.
        self._statistics_lock = threading.Lock()

    # --- shapes and weights ----------------------------------------------------------------------

    def _channels(self, input_shape):
        """The channel count for `input_shape` (batch first), or ClearCNNError for an axis or a rank that does
        not work."""
        rank = len(input_shape)
        if rank < 2:
            raise ClearCNNError(f"{self.where}: input must have a batch axis and at least one more; received "
                                f"input shape {tuple(input_shape)}.")
        if self.axis not in (-1, rank - 1):
            fail(self.where, "axis", self.axis, f"-1 or {rank - 1}, the last (channel) axis of its {rank}-D "
                 f"input of shape {tuple(input_shape)}: clearcnn normalises channels-last data")
        if input_shape[-1] is None:
            raise ClearCNNError(f"{self.where}: the channel axis (last) of its input must have a known size; "
                                f"received input shape {tuple(input_shape)}.")
        return input_shape[-1]

    def compute_output_shape(self, input_shape):
        self._channels(input_shape)
        return tuple(input_shape)

    def weight_shapes(self, input_shape):
        shape = (self._channels(input_shape),)
        names = ["gamma"] * self.scale + ["beta"] * self.center + ["moving_mean", "moving_variance"]
        return {name: shape for name in names}

    def build(self, input_shape):
        shapes = self.weight_shapes(input_shape)
        initializer = {"gamma": self.gamma_initializer, "beta": self.beta_initializer,
                       "moving_mean": self.moving_mean_initializer,
                       "moving_variance": self.moving_variance_initializer}
        for name, shape in shapes.items():
            setattr(self, name, self.add_weight(name, shape, initializer[name], trainable=not name.startswith("moving"),
                                                regularizer=getattr(self, f"{name}_regularizer", None),
                                                constraint=getattr(self, f"{name}_constraint", None)))
        super().build(input_shape)

    def check_shape_compatible(self, shape):
        """Any sizes but the channel count, which is fixed by the weights; the rank too."""
        if len(shape) != len(self.input_shape) or shape[-1] != self.input_shape[-1]:
            raise ClearCNNError(f"{self.where}: input must be {len(self.input_shape)}-D with "
                                f"{self.input_shape[-1]} channels (last axis) as built; received an array of "
                                f"shape {tuple(shape)}.")

    # --- computation -----------------------------------------------------------------------------

    def statistics(self):
        """(moving_mean, moving_variance) as one consistent pair."""
        with self._statistics_lock:
            return self.moving_mean.value, self.moving_variance.value

    def forward(self, x, training=False):
        batch_mode = bool(training) and self.trainable
        gamma = self.gamma.value if self.scale else None
        beta = self.beta.value if self.center else None
        y, used, cache = ops.batch_norm_forward(x, gamma, beta, self.epsilon,
                                                None if batch_mode else self.statistics())
        self._cache = (cache, used if batch_mode else None)  # the batch's statistics await apply_state_updates
        return y

    def backward(self, dy, input_grad=True):
        dx, dgamma, dbeta = ops.batch_norm_backward(dy, self._cache[0], input_grad)
        if self.scale:
            self.gamma.grad = dgamma
        if self.center:
            self.beta.grad = dbeta
        return dx

    def forget(self):
        """Let go of what backward needed; the batch's statistics stay until apply_state_updates."""
        cache = self._cache
        if cache is not None:
            self._cache = (None, cache[1])

    def apply_state_updates(self):
        """Move the moving statistics towards the statistics of this thread's last training-mode batch (once)."""
        cache = self._cache
        if cache is None or cache[1] is None:
            return
        self._cache = (cache[0], None)
        mean, variance = cache[1]
        moving_mean, moving_variance = self.statistics()
        new_mean = ops.moving_average(moving_mean, mean, self.momentum)
        new_variance = ops.moving_average(moving_variance, variance, self.momentum)
        with self._statistics_lock:
            self.moving_mean.value, self.moving_variance.value = new_mean, new_variance

    # --- serialisation ---------------------------------------------------------------------------

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint),
                "synchronized": False, "renorm": False, "renorm_clipping": None, "renorm_momentum": self.renorm_momentum}
