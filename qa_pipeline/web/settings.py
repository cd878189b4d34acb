"""Workstation settings: defaults, overridden by a YAML settings file (``callqa serve --settings FILE``)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_args, get_type_hints

import yaml

from ..config_errors import show, show_list
from ..i18n import t
from ..review.final import DEFAULT_PASS_MARK
from ..review.triage import TriageConfig


class SettingsError(ValueError):
    """A settings file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class WebSettings:
    db: str
    host: str = "127.0.0.1"
    port: int = 8700
    secret_key: str = ""  # signs session cookies; default: a random key kept in <db>.secret (0600)
    session_hours: float = 8.0
    secure_cookies: bool = False  # set when served over HTTPS (behind a proxy)
    pass_mark: float = DEFAULT_PASS_MARK  # % of the rubric's points for 合格 (80 = the 10086 rubric's pass_ratio)
    triage: TriageConfig = field(default_factory=TriageConfig)
    login_max_failures: int = 5
    login_window_s: float = 900.0
    audio_root: str | None = None  # resolve relative audio paths against this directory
    page_size: int = 50
    triage_recheck_s: float = 30.0  # a day's buckets are re-checked for re-scored calls at most this often
    appeal_days: int = 7  # an agent may appeal within this many days of the review's submission (issue 11)


def _secret_for(db: str) -> str:
    env = os.environ.get("CALLQA_SECRET_KEY")
    if env:
        return env
    if "://" in db:
        raise SettingsError(t("web.settings.secret_for_url"))
    path = Path(db).with_name(Path(db).name + ".secret")
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    key = secrets.token_urlsafe(48)
    # not atomic.atomic_path: that gives every output the ordinary mode; a key must be 0600 from its first byte
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key)
    os.replace(tmp, path)
    return key


# what each kind of setting accepts (a YAML value's Python type); bool is no number here (port: true is a mistake)
_KINDS: dict[Any, tuple[type, ...]] = {int: (int,), float: (int, float), bool: (bool,), str: (str,)}
# numbers that must be positive (port also ≤ 65535); a zero page size or session would break the workstation
_POSITIVE = {"port", "session_hours", "login_max_failures", "login_window_s", "page_size", "appeal_days", "sample_n"}


def _check_values(settings_file: Path, data: dict[str, Any], cls: type, prefix: str = "") -> None:
    """Every value has its setting's type (and range): `port: abc` is said here, naming the file and the key,
    not by the web server as "[Errno -8] Servname not supported"."""
    hints = get_type_hints(cls)
    for name, value in data.items():
        kind = hints.get(name)
        args = get_args(kind)
        optional = type(None) in args
        base = next((a for a in args if a is not type(None)), None) if args else kind
        if base is None or base not in _KINDS or (value is None and optional):
            continue
        ok = isinstance(value, bool) == (base is bool) and isinstance(value, _KINDS[base])
        if ok and name in _POSITIVE:
            ok = value > 0 and (name != "port" or value <= 65535)
        if not ok:
            expected = "port" if name == "port" else "positive" if name in _POSITIVE else base.__name__
            raise SettingsError(
                t(
                    "web.settings.bad_value",
                    path=settings_file,
                    key=prefix + name,
                    value=show(value),
                    kind=t("web.settings.kind." + expected),
                )
            )


def load_settings(db: str, settings_file: Path | None = None, **overrides: Any) -> WebSettings:
    s = WebSettings(db=str(db))
    if settings_file is not None:
        try:
            data = yaml.safe_load(Path(settings_file).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise SettingsError(t("web.settings.unreadable", path=settings_file, reason=exc)) from None
        if not isinstance(data, dict):
            raise SettingsError(t("web.settings.not_mapping", path=settings_file))
        known = {f.name for f in fields(WebSettings)} - {"db"}
        unknown = set(data) - known
        if unknown:
            raise SettingsError(
                t(
                    "web.settings.unknown",
                    path=settings_file,
                    names=show_list(sorted(unknown)),
                    known=show_list(sorted(known)),
                )
            )
        tri = data.pop("triage", None)
        if tri is not None:
            tknown = {f.name for f in fields(TriageConfig)}
            if not isinstance(tri, dict) or set(tri) - tknown:
                raise SettingsError(t("web.settings.triage", path=settings_file, known=show_list(sorted(tknown))))
            _check_values(settings_file, tri, TriageConfig, "triage.")
            s = replace(s, triage=TriageConfig(**tri))
        _check_values(settings_file, data, WebSettings)
        s = replace(s, **data)
    s = replace(s, **{k: v for k, v in overrides.items() if v is not None})
    if not s.secret_key:
        s = replace(s, secret_key=_secret_for(s.db))
    return s
