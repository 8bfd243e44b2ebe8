"""See inside: the arithmetic of any output value, the shapes of every layer."""
from .arithmetic import Explanation, explain, explain_cell, explain_conv, explain_pool
from .article import colour_example, grayscale_example
from .shapes_walk import parse_spec, walk, walk_model
