"""What initializers, regularizers and constraints share: Keras's {class_name, config} form, and a catalog that
turns an instance, a name or such a dict into an object of its family."""
from .errors import ClearCNNError, construct, fail
from .utils import to_snake_case


class Configurable:
    """An object rebuilt from its config: `type(self)(**self.get_config())` equals it."""

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return construct(cls, dict(config), cls.__name__, "config")

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class Catalog:
    """The classes of one family by Keras's names for them: the class name, its snake case, and `extra` names
    (Keras's strings and aliases), each mapped to a class or a factory."""

    def __init__(self, base, classes, expected, extra=None):
        self.base, self.expected = base, expected
        self.by_name = {**{c.__name__: c for c in classes}, **{to_snake_case(c.__name__): c for c in classes},
                        **(extra or {})}

    def lookup(self, name):
        """The class (or factory) a Keras name stands for, or None."""
        if not isinstance(name, str):
            return None
        return self.by_name.get(name) or self.by_name.get(to_snake_case(name))

    def get(self, identifier, where, argument, allow_none=True):
        """An object of the family from an instance, a name or a {class_name, config} dict (None passes where
        allowed); anything else is a ClearCNNError naming what would work."""
        if isinstance(identifier, self.base) or (identifier is None and allow_none):
            return identifier
        factory = self.lookup(identifier.get("class_name") if isinstance(identifier, dict) else identifier)
        if factory is not None and isinstance(identifier, dict):
            config = identifier.get("config") or {}
            if not isinstance(config, dict):
                fail(where, argument, identifier, "a {class_name, config} dict whose config is a dict")
            return construct(factory, config, where, argument)
        if factory is not None:
            return factory()
        raise ClearCNNError(f"{where}: argument `{argument}` must be {self.expected}; received "
                            f"{argument}={identifier!r}.")


def serialize(instance):
    """None, or Keras's {class_name, config}."""
    if instance is None:
        return None
    return {"class_name": type(instance).__name__, "config": instance.get_config()}
