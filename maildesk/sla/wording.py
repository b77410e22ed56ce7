"""How due times and durations read in customer and agent mail, in English and Spanish."""

from __future__ import annotations

from datetime import datetime

from maildesk.sla.calendar import BusinessCalendar
from maildesk.sla.model import BusinessDuration, SlaSettings

EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")
ES_WEEKDAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
ES_MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
             "septiembre", "octubre", "noviembre", "diciembre")
# (singular, plural) per unit; Spanish has no locale dependency on purpose: the desk
# may run on a host with only C.UTF-8 installed.
UNITS = {
    "en": {"d": ("day", "days"), "h": ("hour", "hours"), "m": ("minute", "minutes")},
    "es": {"d": ("día", "días"), "h": ("hora", "horas"), "m": ("minuto", "minutos")},
}


def format_local(at: datetime, calendar: BusinessCalendar, language: str = "en") -> str:
    """'Monday 24 November, 13:00' / 'lunes 24 de noviembre, 13:00' in the desk's zone."""
    local = at.astimezone(calendar.timezone)
    clock = f"{local:%H:%M}"
    if language == "es":
        month = ES_MONTHS[local.month - 1]
        return f"{ES_WEEKDAYS[local.weekday()]} {local.day} de {month}, {clock}"
    return f"{EN_WEEKDAYS[local.weekday()]} {local.day} {EN_MONTHS[local.month - 1]}, {clock}"


def describe_duration(duration: BusinessDuration, language: str = "en") -> str:
    """'4 business hours', '2 días laborables', '1 hour and 30 minutes of business time'."""
    units = UNITS.get(language, UNITS["en"])
    minutes = int(duration.time.total_seconds() // 60)
    amounts = [(n, unit) for n, unit in ((duration.days, "d"), (minutes // 60, "h"),
                                         (minutes % 60, "m")) if n]
    words = [f"{n} {units[unit][n != 1]}" for n, unit in amounts]
    if language == "es":
        if len(words) == 1:
            return f"{words[0]} {'laborable' if amounts[0][0] == 1 else 'laborables'}"
        return f"{', '.join(words[:-1])} y {words[-1]} de tiempo laborable"
    if len(words) == 1:
        n, unit = amounts[0]
        return f"{n} business {units[unit][n != 1]}"
    return f"{', '.join(words[:-1])} and {words[-1]} of business time"


def describe_due(duration: BusinessDuration, due: datetime, calendar: BusinessCalendar,
                 language: str = "en") -> str:
    """'within 4 business hours (by Monday 24 November, 13:00)', or the Spanish wording."""
    when = format_local(due, calendar, language)
    if language == "es":
        return f"en un plazo de {describe_duration(duration, 'es')} (antes del {when})"
    return f"within {describe_duration(duration, 'en')} (by {when})"


def expected_first_response(settings: SlaSettings, policy: str | None, priority: str,
                            created_at: datetime, language: str = "en") -> str:
    """The acknowledgement's promise for a new ticket, e.g. in the ack template."""
    target = settings.policy(policy).target(priority).response
    due = target.after(created_at, settings.calendar)
    return describe_due(target, due, settings.calendar, language)
