"""See inside: the arithmetic of any output value, the shapes of every layer."""
from .arithmetic import Explanation, explain_conv, explain_pool
from .cells import explain, explain_cell, explain_dense
from .shapes_walk import parse_spec, walk, walk_model
from .worked_examples import colour_example, grayscale_example
