"""click's and typer's own words around callqa's help and errors — "Usage:", the "Options" panel, "[default: 20]",
"Invalid value for '--from': …", "Missing argument" — in the language chosen by --lang / CALLQA_LANG.

click and typer translate their words through gettext (`from gettext import gettext as _`, bound in each module
when it is imported; typer also evaluates its panel titles at import) and ship no Chinese catalog. A gettext .mo
bound to the process-wide "messages" domain would follow the locale environment rather than --lang, and would
change every other gettext user in the process. So the CLI layer rebinds `_` and `ngettext` in click's and typer's
own modules to a lookup in callqa's message catalog (messages/frame.*.yaml), keyed by the English msgid (the `en`
catalog holds click's msgids verbatim), and re-evaluates typer's titles when the language is chosen.

Text that does not pass through gettext stays English: the error sentences of the click copy that typer ≥ 0.2x
carries inside itself ("Missing argument 'query'.", "Invalid value for '--at': …", "No such option: …" are plain
f-strings there) and typer's value coercion ("Input should be a valid number"). Such a sentence still sits in a
translated frame (the 错误 panel, "运行 'callqa search --help' 查看帮助。"); with typer on the click package
(typer ≤ 0.1x) those sentences are translated too.
"""

from __future__ import annotations

import gettext
import sys
from functools import cache

from ..i18n import catalog, t

# typer.rich_utils attributes computed once, at import, from these msgids
_TYPER_CONSTANTS = {
    "DEPRECATED_STRING": "(deprecated) ",
    "DEFAULT_STRING": "[default: {}]",
    "ENVVAR_STRING": "[env var: {}]",
    "REQUIRED_LONG_STRING": "[required]",
    "ARGUMENTS_PANEL_TITLE": "Arguments",
    "OPTIONS_PANEL_TITLE": "Options",
    "COMMANDS_PANEL_TITLE": "Commands",
    "ERRORS_PANEL_TITLE": "Error",
    "ABORTED_TEXT": "Aborted.",
    "RICH_HELP": "Try [blue]'{command_path} {help_option}'[/] for help.",
}


@cache
def _keys() -> dict[str, str]:
    return {text: key for key, text in catalog("en").items() if key.startswith("frame.")}


def translate(msgid: str) -> str:
    """click's/typer's message in the chosen language; a msgid the catalog lacks is returned unchanged."""
    key = _keys().get(msgid)
    return t(key) if key else msgid


def ntranslate(singular: str, plural: str, n: int) -> str:
    return translate(singular if n == 1 else plural)


def install() -> None:
    """Route click's and typer's gettext calls through the catalog (idempotent)."""
    # `import typer` has loaded click (typer ≤ 0.1x runs on it; newer typer carries its own click, whose messages
    # are plain f-strings) and typer's core; only the rich help module is imported lazily, so load it before
    # rebinding, or it would bind gettext's own function later
    import typer.rich_utils  # noqa: F401

    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] not in ("click", "typer") or module is None:
            continue
        if getattr(module, "_", None) is gettext.gettext:
            module._ = translate  # type: ignore[attr-defined]
        if getattr(module, "ngettext", None) is gettext.ngettext:
            module.ngettext = ntranslate  # type: ignore[attr-defined]
    refresh()


def refresh() -> None:
    """Re-evaluate typer's import-time titles in the current language (call after the language changes)."""
    from typer import rich_utils

    for attr, msgid in _TYPER_CONSTANTS.items():
        setattr(rich_utils, attr, translate(msgid))
