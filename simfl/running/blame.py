"""Which plugin raised: an exception from a plugin's code, turned into one line naming it."""

from __future__ import annotations

import simfl.registry as registry
from simfl.config.schema import Config
from simfl.errors import PluginError, SimflError

__all__ = ["blame_plugin"]


def blame_plugin(exc: BaseException, config: Config) -> PluginError | None:
    """A one-line :class:`PluginError` naming the plugin whose code raised ``exc`` (None: not a plugin's)."""
    if not isinstance(exc, (Exception, SystemExit)) or isinstance(exc, SimflError):  # sys.exit() in a hook too
        return None
    plugins = registry.plugin_components(config.algorithm)
    if not plugins:
        return None
    modules = {module: (key, name) for key, name, module in plugins}
    blamed = None
    tb = exc.__traceback__
    while tb is not None:  # the innermost frame in a plugin's module names the hook
        module = tb.tb_frame.f_globals.get("__name__")
        if module in modules:
            blamed = (*modules[module], tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    component = getattr(exc, "component", None)  # a ContractError: the plugin returned a bad value
    if component is not None:
        owner = _owner(plugins, component)
        if owner is not None:
            error = PluginError(f"{owner[0]}: {owner[1]}: {exc}")
            error.__cause__ = exc
            return error
    if blamed is None:
        return None
    key, name, hook = blamed
    error = PluginError(f"{key}: {name}: {hook}() raised {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def _owner(plugins: list[tuple[str, str, str]], component: object) -> tuple[str, str] | None:
    """``(config key, name)`` of the plugin that ``component`` (an object or a function) belongs to."""
    module = getattr(component, "__module__", None) or type(component).__module__
    owner = getattr(component, "__qualname__", type(component).__qualname__).split(".")[0]
    matches = [(key, name) for key, name, m in plugins if m == module]
    exact = [(key, name) for key, name in matches if name.rsplit(":", 1)[-1].split(".")[0] == owner]
    return (exact or matches or [None])[0]
