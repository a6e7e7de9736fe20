"""The OAI-PMH 2.0 request: verbs, their arguments, dates and identifiers, and the protocol's
errors (https://www.openarchives.org/OAI/openarchivesprotocol.html, sections 3 and 4).

Every check the protocol names is made here, before anything is read: a missing, unknown or
repeated verb is badVerb; a repeated, unknown, missing or malformed argument, a resumptionToken
beside anything but the verb, `from` and `until` of different granularities or in the wrong
order are badArgument. The answer to these two carries no attributes on its <request>
(section 3.6), which `OaiRequest.echo` is empty for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

IDENTIFY = "Identify"
LIST_METADATA_FORMATS = "ListMetadataFormats"
LIST_SETS = "ListSets"
GET_RECORD = "GetRecord"
LIST_IDENTIFIERS = "ListIdentifiers"
LIST_RECORDS = "ListRecords"

# Each verb's arguments: required, optional, and whether a resumptionToken may stand alone.
_LIST_ARGS = ("from", "until", "set", "metadataPrefix")
ARGUMENTS: dict[str, tuple[frozenset[str], frozenset[str], bool]] = {
    IDENTIFY: (frozenset(), frozenset(), False),
    LIST_METADATA_FORMATS: (frozenset(), frozenset({"identifier"}), False),
    LIST_SETS: (frozenset(), frozenset(), True),
    GET_RECORD: (frozenset({"identifier", "metadataPrefix"}), frozenset(), False),
    LIST_IDENTIFIERS: (frozenset({"metadataPrefix"}), frozenset(_LIST_ARGS), True),
    LIST_RECORDS: (frozenset({"metadataPrefix"}), frozenset(_LIST_ARGS), True),
}
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_SECOND = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
# setSpec and metadataPrefix as OAI-PMH.xsd states them.
SET_SPEC = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(?::[A-Za-z0-9\-_.!~*'()]+)*")
PREFIX = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+")
MAX_ARGUMENT_CHARS = 2000


class OaiError(Exception):
    """A protocol error: answered with HTTP 200 and <error code="...">."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def bad_argument(message: str) -> OaiError:
    return OaiError("badArgument", message)


@dataclass(frozen=True, slots=True)
class OaiRequest:
    verb: str
    arguments: dict[str, str]

    @property
    def echo(self) -> dict[str, str]:
        """The <request> attributes: the verb and the arguments, as received."""
        return {"verb": self.verb, **self.arguments}

    def get(self, name: str) -> str | None:
        return self.arguments.get(name)


def parse(pairs: Iterable[tuple[str, str]]) -> OaiRequest:
    """The request of a GET query's or POST form's (name, value) pairs; OaiError for what the
    protocol calls badVerb or badArgument."""
    seen: dict[str, list[str]] = {}
    for name, value in pairs:
        seen.setdefault(name, []).append(value)
    verbs = seen.pop("verb", [])
    if len(verbs) != 1:
        raise OaiError("badVerb", "Give exactly one verb" if verbs else "The verb is missing")
    verb = verbs[0]
    if verb not in ARGUMENTS:
        raise OaiError("badVerb", "The verb is not one of OAI-PMH 2.0's")
    required, optional, resumable = ARGUMENTS[verb]
    repeated = sorted(name for name, values in seen.items() if len(values) > 1)
    if repeated:
        raise bad_argument(f"Repeated argument: {', '.join(repeated)}")
    arguments = {name: values[0] for name, values in seen.items()}
    if any(len(value) > MAX_ARGUMENT_CHARS for value in arguments.values()):
        raise bad_argument("An argument is too long")
    if "resumptionToken" in arguments:
        if not resumable:
            raise bad_argument(f"{verb} takes no resumptionToken")
        if len(arguments) > 1:
            raise bad_argument("resumptionToken is exclusive: give it alone with the verb")
        return OaiRequest(verb, arguments)
    unknown = sorted(set(arguments) - required - optional)
    if unknown:
        raise bad_argument(f"Not an argument of {verb}: {', '.join(unknown)}")
    missing = sorted(required - set(arguments))
    if missing:
        raise bad_argument(f"{verb} needs {', '.join(missing)}")
    if "set" in arguments and not SET_SPEC.fullmatch(arguments["set"]):
        raise bad_argument("set is not a setSpec")
    if "metadataPrefix" in arguments and not PREFIX.fullmatch(arguments["metadataPrefix"]):
        raise bad_argument("metadataPrefix is not of the form OAI-PMH allows")
    if "identifier" in arguments and not IDENTIFIER.fullmatch(arguments["identifier"]):
        raise bad_argument("identifier is not a URI")
    if "from" in arguments or "until" in arguments:
        date_range(arguments.get("from"), arguments.get("until"))  # checked now
    return OaiRequest(verb, arguments)


def _moment(name: str, text: str) -> tuple[datetime, bool]:
    """A from/until as UTC (naive) and whether it is a day (else a second)."""
    try:
        if _DAY.fullmatch(text):
            return datetime.strptime(text, "%Y-%m-%d"), True
        if _SECOND.fullmatch(text):
            return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ"), False
    except ValueError:
        pass
    raise bad_argument(f"{name} must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ")


@dataclass(frozen=True, slots=True)
class DateRange:
    """Datestamps at or after `start` and before `end` (ISO UTC with milliseconds, as the
    catalogue writes them; None: open)."""

    start: str | None
    end: str | None


def date_range(since: str | None, until: str | None) -> DateRange:
    """`from` and `until` (both inclusive, at their granularity) as a half-open range."""
    start = end = None
    start_day = end_day = None
    if since is not None:
        moment, start_day = _moment("from", since)
        start = iso_ms(moment)
    if until is not None:
        moment, end_day = _moment("until", until)
        # Inclusive: the whole day, or the whole second.
        end = iso_ms(moment + (timedelta(days=1) if end_day else timedelta(seconds=1)))
    if start_day is not None and end_day is not None and start_day != end_day:
        raise bad_argument("from and until must have the same granularity")
    if start is not None and end is not None and start >= end:
        raise bad_argument("from is later than until")
    return DateRange(start, end)


def iso_ms(moment: datetime) -> str:
    """A naive UTC or aware moment as the catalogue's times are written (clock.iso)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def datestamp(at: str) -> str:
    """A catalogue time (ISO UTC, milliseconds) at the repository's granularity, the second."""
    return at[:19] + "Z"


def oai_identifier(repository: str, dataset_id: str) -> str:
    return f"oai:{repository}:{dataset_id}"


def dataset_id_of(repository: str, identifier: str) -> str | None:
    """The dataset id of one of this repository's identifiers; None for any other."""
    prefix = f"oai:{repository}:"
    if not identifier.startswith(prefix):
        return None
    rest = identifier[len(prefix) :]
    return rest if rest and rest.isalnum() and rest.isascii() else None
