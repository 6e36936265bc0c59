"""How alerting is configured: contact points (where notifications go), notification policies
(which alerts go where, grouped how and how often), inhibition rules and maintenance windows; as
an API body or a YAML file, validated with errors that name the field (``policies[1].group_wait``).

Secrets (a contact point's URL, a webhook's signing key, an SMTP password) are write-only: they
are accepted here and never part of what the API answers (``public_contact_point``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import ValidationError
from .model import RULES

__all__ = [
    "DEFAULT_INHIBIT_RULES",
    "SECRET_FIELDS",
    "AlertingConfig",
    "AlertingConfigInput",
    "AlertingSetup",
    "ContactPointFields",
    "ContactPointSpec",
    "InhibitRule",
    "MaintenanceWindow",
    "Match",
    "PoliciesInput",
    "PolicySpec",
    "SilenceSpec",
    "check_policies",
    "checked",
    "load_alerting_file",
    "parse_duration",
    "public_contact_point",
]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
LABEL_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Label names as the schema states them, so a client generated from it sends only accepted ones.
LabelName = Annotated[str, Field(pattern=LABEL_PATTERN.pattern)]
# Fields of a contact point that are secrets: stored in their own columns, never answered.
SECRET_FIELDS = ("url", "secret", "password")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_NAMED = re.compile(r"^([a-z_]+): (.*)$", re.S)
_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def parse_duration(value: Any) -> float:
    """Seconds from ``30s``, ``5m``, ``4h``, ``1d``, ``250ms`` or a plain number of seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 30s, 5m, 4h or a number of seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value).strip())
        if not match:
            raise ValueError(f"{value!r} is not a duration such as 30s, 5m, 4h or a number of seconds")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = pydantic.BeforeValidator(parse_duration)


def _labels(value: dict[str, str]) -> dict[str, str]:
    for name in value:
        if not LABEL_PATTERN.match(name):
            raise ValueError(f"label name {name!r} must be letters, digits and _ (not starting with a digit)")
    return {k: str(v) for k, v in value.items()}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ContactPointFields(_Spec):
    """Where notifications go: a Prometheus Alertmanager, a webhook, a Slack-compatible incoming
    webhook or an e-mail address list over SMTP. (A body of ``PUT /alerting/contact-points/{name}``:
    a secret left out keeps the one stored.)"""

    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    kind: Literal["alertmanager", "webhook", "slack", "email"]
    url: str | None = Field(
        default=None,
        description="alertmanager: its base URL; webhook and slack: the URL to POST to (write-only: may carry a token)",
    )
    secret: str | None = Field(
        default=None, min_length=16, description="webhook: the HMAC-SHA256 signing key (write-only)"
    )
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password: str | None = Field(default=None, description="SMTP password (write-only)")
    from_address: str | None = None
    to: list[str] = Field(default_factory=list)
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or any(c.isspace() for c in address):
                raise ValueError(f"{address!r} is not an e-mail address")
        return value


class ContactPointSpec(ContactPointFields):
    """A contact point as stored: complete for its kind."""

    name: str = Field(pattern=NAME_PATTERN)

    @model_validator(mode="after")
    def _kind_needs(self) -> ContactPointSpec:
        need = {"email": ("smtp_host", "from_address", "to")}.get(self.kind, ("url",))
        for name in need:
            if not getattr(self, name):
                raise ValueError(f"{name}: required for a contact point of kind {self.kind}")
        return self


class Match(_Spec):
    """Which alerts a policy takes; every condition given must hold, a list holds when any item does.
    Globs (``pay-*``) work in plugins and label values."""

    plugins: list[str] = Field(default_factory=list, description="plugin ids or globs")
    labels: dict[LabelName, str] = Field(default_factory=dict, description="alert or plugin labels: value or glob")
    metrics: list[str] = Field(default_factory=list)
    severities: list[Literal["High", "Medium", "Low"]] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list, description=f"alert rules: {', '.join(RULES)}")

    _check_labels = field_validator("labels")(classmethod(lambda cls, v: _labels(v)))

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, value: list[str]) -> list[str]:
        for rule in value:
            if rule not in RULES:
                raise ValueError(f"unknown rule {rule!r}; known: {', '.join(RULES)}")
        return value


class PolicySpec(_Spec):
    """A notification policy: alerts it matches go to its contact points, grouped by ``group_by``
    labels; a group's first notification waits ``group_wait``, later changes wait ``group_interval``
    after the last one, an unchanged firing group is repeated every ``repeat_interval``."""

    name: str = Field(pattern=NAME_PATTERN)
    match: Match = Field(default_factory=Match)
    contact_points: list[str] = Field(min_length=1)
    group_by: list[str] = Field(
        default_factory=lambda: ["plugin_id"], description="labels; ['...'] makes every alert its own group"
    )
    group_wait: float = Field(default=30.0, json_schema_extra={"example": "30s"}, le=86_400)
    group_interval: float = Field(default=300.0, json_schema_extra={"example": "5m"}, gt=0, le=86_400)
    repeat_interval: float = Field(default=14_400.0, json_schema_extra={"example": "4h"}, gt=0, le=30 * 86_400)
    send_resolved: bool = True
    continue_: bool = Field(default=False, alias="continue", description="also try the policies after this one")

    _durations = field_validator("group_wait", "group_interval", "repeat_interval", mode="before")(
        classmethod(lambda cls, v: parse_duration(v))
    )

    @field_validator("group_by")
    @classmethod
    def _group_labels(cls, value: list[str]) -> list[str]:
        if value == ["..."]:
            return value
        _labels({name: "" for name in value})
        return sorted(set(value))


class InhibitRule(_Spec):
    """While an alert matching ``source`` fires, alerts matching ``target`` with the same ``equal``
    labels are not notified (default: an open High on a plugin inhibits its Lows)."""

    source: dict[LabelName, str] = Field(min_length=1)
    target: dict[LabelName, str] = Field(min_length=1)
    equal: list[str] = Field(default_factory=lambda: ["plugin_id"])

    _check = field_validator("source", "target")(classmethod(lambda cls, v: _labels(v)))


DEFAULT_INHIBIT_RULES = [{"source": {"severity": "High"}, "target": {"severity": "Low"}, "equal": ["plugin_id"]}]


class MaintenanceWindow(_Spec):
    """A planned time when matching alerts are not notified: once (``starts_at`` .. ``ends_at``)
    or every week (``weekdays`` at ``start`` UTC for ``duration``)."""

    name: str = Field(pattern=NAME_PATTERN)
    matchers: dict[LabelName, str] = Field(min_length=1)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(default_factory=list)
    start: str | None = Field(default=None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, UTC")
    duration: float | None = Field(default=None, gt=0, le=7 * 86_400)
    comment: str = Field(default="", max_length=1000)

    _check = field_validator("matchers")(classmethod(lambda cls, v: _labels(v)))
    _duration = field_validator("duration", mode="before")(
        classmethod(lambda cls, v: None if v is None else parse_duration(v))
    )

    @model_validator(mode="after")
    def _once_or_weekly(self) -> MaintenanceWindow:
        once = self.starts_at is not None or self.ends_at is not None
        weekly = bool(self.weekdays) or self.start is not None or self.duration is not None
        if once == weekly:
            raise ValueError("starts_at: give starts_at and ends_at (once) or weekdays, start and duration (weekly)")
        if once and (self.starts_at is None or self.ends_at is None or self.ends_at <= self.starts_at):
            raise ValueError("ends_at: must be after starts_at")
        if weekly and not (self.weekdays and self.start and self.duration):
            missing = next(f for f in ("weekdays", "start", "duration") if not getattr(self, f))
            raise ValueError(f"{missing}: required for a weekly window")
        return self


class SilenceSpec(_Spec):
    """An operator's silence: alerts whose labels match every matcher are not notified until it ends."""

    matchers: dict[LabelName, str] = Field(min_length=1, description="label: value or glob, all must match")
    starts_at: datetime | None = Field(default=None, description="default: now")
    ends_at: datetime | None = Field(default=None, description="give ends_at or duration")
    duration: float | None = Field(default=None, gt=0, le=365 * 86_400, description="e.g. 2h")
    comment: str = Field(default="", max_length=1000)
    created_by: str = Field(default="", max_length=128)

    _check = field_validator("matchers")(classmethod(lambda cls, v: _labels(v)))
    _duration = field_validator("duration", mode="before")(
        classmethod(lambda cls, v: None if v is None else parse_duration(v))
    )

    @model_validator(mode="after")
    def _ends(self) -> SilenceSpec:
        if (self.ends_at is None) == (self.duration is None):
            raise ValidationError("ends_at: give ends_at or duration (one of them)", field="ends_at")
        return self


class AlertingConfig(_Spec):
    """The whole alerting configuration (``PUT /alerting/config``, the YAML file)."""

    contact_points: list[ContactPointSpec] = Field(default_factory=list)
    policies: list[PolicySpec] = Field(default_factory=list)
    inhibit_rules: list[InhibitRule] = Field(default_factory=lambda: [InhibitRule(**r) for r in DEFAULT_INHIBIT_RULES])
    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> AlertingConfig:
        _unique("contact_points", [c.name for c in self.contact_points])
        _unique("policies", [p.name for p in self.policies])
        _unique("maintenance_windows", [w.name for w in self.maintenance_windows])
        _check_references(self.policies, {c.name for c in self.contact_points})
        return self


@dataclass(frozen=True)
class AlertingSetup:
    """The configuration in force, as routing and delivery read it (contact points with secrets)."""

    policies: tuple[PolicySpec, ...] = ()
    inhibit_rules: tuple[InhibitRule, ...] = ()
    windows: tuple[MaintenanceWindow, ...] = ()
    contact_points: dict[str, dict[str, Any]] = field(default_factory=dict)

    def policy(self, name: str) -> PolicySpec | None:
        return next((p for p in self.policies if p.name == name), None)


class PoliciesInput(_Spec):
    """A body of ``PUT /alerting/policies``: the whole ordered list."""

    policies: list[PolicySpec]


class AlertingConfigInput(_Spec):
    """A body of ``PUT /alerting/config``, checked for shape; ``AlertingConfig`` checks the whole."""

    contact_points: list[ContactPointFields] = Field(default_factory=list)
    policies: list[PolicySpec] = Field(default_factory=list)
    inhibit_rules: list[InhibitRule] | None = Field(default=None, description="default: High inhibits Low")
    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=list)

    def document(self) -> dict[str, Any]:
        out = self.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True)
        out["contact_points"] = [c.model_dump(mode="json", exclude_unset=True) for c in self.contact_points]
        return out


def _unique(where: str, names: list[str]) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise ValidationError(
                f"{where}[{i}].name: {name!r} repeats {where}[{seen[name]}]", field=f"{where}[{i}].name"
            )
        seen[name] = i


def _check_references(policies: list[PolicySpec], contact_points: set[str]) -> None:
    for i, policy in enumerate(policies):
        for j, name in enumerate(policy.contact_points):
            if name not in contact_points:
                known = ", ".join(sorted(contact_points)) or "none configured"
                field = f"policies[{i}].contact_points[{j}]"
                raise ValidationError(f"{field}: no contact point named {name!r} (known: {known})", field=field)


def check_policies(body: list[Any], contact_points: set[str]) -> list[PolicySpec]:
    """A list of policies validated on its own (``PUT /alerting/policies``) against the contact
    points that exist."""
    policies = [checked(PolicySpec, p, f"policies[{i}]") for i, p in enumerate(body)]
    _unique("policies", [p.name for p in policies])
    _check_references(policies, contact_points)
    return policies


def checked(model: type[BaseModel], data: Any, where: str = "") -> Any:
    """``model`` validated from ``data``; any problem is our ValidationError naming the field path
    (``policies[0].group_wait: ...``), never pydantic's own (which a face would answer as a 500)."""
    prefix = f"{where}." if where else ""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        field = f"{prefix}{exc.field}" if exc.field else where or None
        raise ValidationError(f"{prefix}{exc.message}" if prefix else exc.message, field=field) from None
    except pydantic.ValidationError as exc:
        lines, first = [], None
        for error in exc.errors(include_url=False):
            field = prefix + _path(error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            named = _NAMED.match(message) if error["type"] == "value_error" else None
            if error["type"] == "extra_forbidden":
                what = "unknown field"
            elif error["type"] == "missing":
                what = "required"
            elif named:  # a model's own check names its field first: "url: required for ..."
                field = f"{field}.{named.group(1)}" if field else named.group(1)
                what = named.group(2)
            else:
                got = repr(error.get("input"))
                what = f"{message} (got {got if len(got) <= 60 else got[:57] + '...'})"
            first = first or field
            lines.append(f"{field}: {what}")
        raise ValidationError("\n".join(lines), field=first) from None


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_alerting_file(path: Path) -> AlertingConfig:
    """Read the alerting YAML file (``contact_points``, ``policies``, ``inhibit_rules``,
    ``maintenance_windows``). A secret may be written ``${ENV_VAR}``: it is read from the
    environment, so the file itself need not hold it."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        reason = str(exc).replace("\n", " ")
        raise ValidationError(f"cannot read alerting file {path}: {reason}", field="alerting_file") from None
    if not isinstance(document, dict):
        raise ValidationError(f"{path}: expected a mapping with contact_points, policies ...", field="alerting_file")
    for i, point in enumerate(document.get("contact_points") or []):
        if isinstance(point, dict):
            for name in SECRET_FIELDS:
                ref = _ENV_REF.match(str(point.get(name) or ""))
                if ref:
                    if ref.group(1) not in os.environ:
                        field = f"contact_points[{i}].{name}"
                        raise ValidationError(
                            f"{path}: {field}: environment variable {ref.group(1)} is not set", field=field
                        )
                    point[name] = os.environ[ref.group(1)]
    try:
        return checked(AlertingConfig, document)
    except ValidationError as exc:
        raise ValidationError(
            "\n".join(f"{path}: {line}" for line in exc.message.splitlines()), field=exc.field
        ) from None


def public_contact_point(spec: dict[str, Any]) -> dict[str, Any]:
    """A contact point as the API answers it: no secret, only whether one is set, and the URL cut
    to its scheme and host (a Slack or webhook URL's path is itself a token)."""
    out = {k: v for k, v in spec.items() if k not in SECRET_FIELDS}
    url = spec.get("url")
    out["url"] = _url_display(url) if url else None
    out["has_secret"] = bool(spec.get("secret"))
    out["has_password"] = bool(spec.get("password"))
    return out


def _url_display(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return (
        f"{parts.scheme}://{host}{port}/…"
        if parts.path not in ("", "/") or parts.query
        else f"{parts.scheme}://{host}{port}"
    )
