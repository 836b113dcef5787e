"""A module of rnnlab that is not available while a notebook is graded: the guarded copy
installs this file in place of every reference implementation (``rnnlab.ngram``,
``rnnlab.layers``, ...). Every name it is asked for stands for a class whose creation, and so
every call, raises ``ReferenceUnavailable`` with a sentence saying why."""


class ReferenceUnavailable(RuntimeError):
    pass


class _Refused:
    """Stands for every name of the module; calling or instantiating it raises."""

    def __init_subclass__(cls, **kwargs):
        pass

    def __new__(cls, *args, **kwargs):
        raise ReferenceUnavailable(
            f"{__name__}.{cls._name} is one of rnnlab's reference implementations: it is not "
            "available while your notebook is graded. Your answer must use your own code.")


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return type(name, (_Refused,), {"_name": name})
