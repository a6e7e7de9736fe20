"""What the harvest checks find: findings with a level, grouped by check, and the plain-text
report the dialog copies and the CLI prints."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Level(enum.Enum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Level.OK: 0, Level.WARNING: 1, Level.ERROR: 2}


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    title: str
    detail: str = ""
    action: str = ""  # what to do about it, for a warning or an error


def ok(title: str, detail: str = "") -> Finding:
    return Finding(Level.OK, title, detail)


def warning(title: str, detail: str = "", action: str = "") -> Finding:
    return Finding(Level.WARNING, title, detail, action)


def error(title: str, detail: str = "", action: str = "") -> Finding:
    return Finding(Level.ERROR, title, detail, action)


@dataclass(frozen=True, slots=True)
class CheckResult:
    key: str  # "server", "oai", "dcat", "schema_org", "incremental"
    name: str  # what the report calls it
    findings: tuple[Finding, ...] = ()

    @property
    def level(self) -> Level:
        return max((f.level for f in self.findings), key=lambda lv: lv.rank, default=Level.OK)


@dataclass(frozen=True, slots=True)
class Report:
    url: str
    checks: tuple[CheckResult, ...] = field(default=())

    @property
    def level(self) -> Level:
        return max((c.level for c in self.checks), key=lambda lv: lv.rank, default=Level.OK)

    def count(self, level: Level) -> int:
        return sum(f.level is level for c in self.checks for f in c.findings)

    def check(self, key: str) -> CheckResult:
        return next(c for c in self.checks if c.key == key)

    def summary(self) -> str:
        errors, warnings = self.count(Level.ERROR), self.count(Level.WARNING)
        if not errors and not warnings:
            return "Harvesters can read this server: every check passed."
        if not errors:
            return (
                f"No errors: harvesters can read this server. {_plural(warnings, 'warning')} "
                "say what they would read better."
            )
        return f"{_plural(errors, 'error')} and {_plural(warnings, 'warning')}."

    def text(self) -> str:
        """The report as plain text: a section a check, a line a finding, its detail and what
        to do indented below it."""
        lines = [f"Harvest check of {self.url}", self.summary(), ""]
        for check in self.checks:
            lines.append(f"== {check.name} ==")
            for finding in check.findings:
                lines.append(f"[{finding.level.value.upper()}] {finding.title}")
                lines.extend(f"    {line}" for line in finding.detail.splitlines())
                if finding.action:
                    lines.append(f"    What to do: {finding.action}")
            lines.append("")
        return "\n".join(lines)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def examples(items: list[str], limit: int) -> str:
    """The first `limit` items, and how many more there are."""
    shown = ", ".join(items[:limit])
    rest = len(items) - limit
    return shown + (f" and {rest:,} more" if rest > 0 else "")
