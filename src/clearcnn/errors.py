"""The one exception type that clearcnn raises for user mistakes."""


class ClearCNNError(ValueError):
    """A user mistake: the message names where, the argument, the value received and what works.

    It subclasses ValueError so that code written for Keras (which raises ValueError) keeps working.
    """


def fail(where, argument, received, expected):
    """Raise ClearCNNError with the project's message form.

    >>> fail("Conv2D 'conv2d'", "filters", 0, "a positive integer such as 32")
    Traceback (most recent call last):
    ...
    clearcnn.errors.ClearCNNError: Conv2D 'conv2d': argument `filters` must be a positive integer such as 32; received filters=0.
    """
    raise ClearCNNError(f"{where}: argument `{argument}` must be {expected}; received {argument}={received!r}.")
