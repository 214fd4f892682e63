"""Routed parameters: ``module__units=(64,)`` next to ``epochs=5``, within the scikit-learn contract.

An estimator declares its own parameters in the signature of ``__init__`` and
takes everything else as ``**kwargs``: names of the form ``<prefix>__<name>``
that are passed on to a part it builds at fit time (``module__`` to the network,
``optimizer__`` to the optimiser), the way skorch does. ``__init__`` only stores
them (in ``_routed_params``; scikit-learn's ``check_no_attributes_set_in_init``
allows private attributes only), and:

- ``get_params`` returns declared and routed parameters together, so `clone`,
  `GridSearchCV` and `repr` see them;
- ``set_params`` accepts both, and refuses an unknown name at once, with the
  nearest valid name and the list of valid ones;
- ``est.module__units`` reads a routed parameter like a declared one;
- ``fit`` checks the names again (a constructor must not validate), so a typo
  made in the constructor fails at fit with the same message.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from rnnlab.errors import ConfigError, suggest


def signature_names(fn: Callable[..., Any] | type, skip: Iterable[str] = ()) -> list[str] | None:
    """Keyword names ``fn`` accepts, or None when it takes ``**kwargs`` (anything goes)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin or an odd callable: do not guess
        return None
    names = []
    for p in params:
        if p.kind is p.VAR_KEYWORD:
            return None
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
            names.append(p.name)
    skip = set(skip)
    return [n for n in names if n not in skip]


class RoutedParamsMixin:
    """get_params / set_params over declared parameters plus ``prefix__name`` ones.

    Subclasses list their prefixes in ``_route_prefixes`` and say which names a
    prefix takes in ``_routed_names(prefix)`` (None: any name).
    """

    _route_prefixes: tuple[str, ...] = ("module", "optimizer")
    _routed_params: dict[str, Any]

    def _routed_names(self, prefix: str) -> list[str] | None:
        return None

    def _refusal(self, prefix: str, name: str) -> str | None:
        """Why ``prefix__name`` cannot be set, when the estimator owns that setting."""
        return None

    def __getattr__(self, name: str) -> Any:
        # Only for routed names: private and dunder lookups (pickle, copy) must fail normally.
        if not name.startswith("_"):
            routed = self.__dict__.get("_routed_params")
            if routed is not None and name in routed:
                return routed[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Declared parameters and the routed ``prefix__name`` ones (there is no nesting)."""
        params = super().get_params(deep=False)  # type: ignore[misc]
        params.update(self.__dict__.get("_routed_params", {}))
        return params

    def set_params(self, **params: Any) -> RoutedParamsMixin:
        """Set declared and routed parameters; an unknown name raises `ConfigError`.

        Returns:
            self.
        """
        if not params:
            return self
        declared = set(self._get_param_names())  # type: ignore[attr-defined]
        routed = dict(self.__dict__.get("_routed_params", {}))
        updates = {}
        for key, value in params.items():
            if key in declared:
                updates[key] = value
            else:
                routed[key] = value
        # Check the names as they will be after the update (build_fn may change too).
        self.check_param_names([k for k in params if k not in declared], updates)
        for key, value in updates.items():
            setattr(self, key, value)
        self._routed_params = routed
        return self

    def _routed(self, prefix: str) -> dict[str, Any]:
        """The routed parameters of one prefix, without it: ``{"units": (64,)}``."""
        start = prefix + "__"
        return {k[len(start) :]: v for k, v in self._routed_params.items() if k.startswith(start)}

    def check_param_names(
        self, names: Iterable[str] | None = None, pending: dict[str, Any] | None = None
    ) -> None:
        """Raise `ConfigError` for a name that is neither declared nor a valid routed one.

        Args:
            names: the names to check; default every routed parameter.
            pending: declared values about to be set (they decide what a prefix takes).
        """
        names = list(self._routed_params) if names is None else list(names)
        if not names:
            return
        saved = {k: getattr(self, k) for k in (pending or {})}
        try:
            for k, v in (pending or {}).items():
                object.__setattr__(self, k, v)
            allowed = {p: self._routed_names(p) for p in self._route_prefixes}
        finally:
            for k, v in saved.items():
                object.__setattr__(self, k, v)
        declared = sorted(self._get_param_names())  # type: ignore[attr-defined]
        for name in names:
            prefix, sep, sub = name.partition("__")
            why = self._refusal(prefix, sub) if sep and prefix in allowed else None
            if why is not None:
                raise ConfigError(f"{type(self).__name__}: `{name}` cannot be set: {why}")
            if (
                sep
                and prefix in allowed
                and sub
                and (allowed[prefix] is None or sub in allowed[prefix])
            ):
                continue
            candidates = list(declared)
            for p, subs in allowed.items():
                candidates += [f"{p}__{s}" for s in subs or ()]
            routes = ", ".join(
                f"{p}__<{'|'.join(subs) if subs is not None else 'any'}>"
                for p, subs in allowed.items()
            )
            what = (
                f"`{name}`: `{sub}` is not a setting of `{prefix}`"
                if sep and prefix in allowed
                else f"unknown parameter `{name}`"
            )
            raise ConfigError(
                f"{type(self).__name__}: {what}{suggest(name, candidates)}; valid parameters: "
                f"{', '.join(declared)}, and routed ones {routes}"
            )
