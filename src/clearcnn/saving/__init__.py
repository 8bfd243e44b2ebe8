"""Model and weights files: clearcnn's own format and Keras's, chosen by the file's name (see api.py)."""
from .api import load_model, load_weights, save_model, save_weights
