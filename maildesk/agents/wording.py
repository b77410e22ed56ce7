"""The lines an agent reads in a confirmation or an error mail, in the agent's language.

actions and commands describe what happened in English (the CLI prints that too); this
table turns each line into Spanish for agents whose language is `es`. A line the table
does not know stays as it is, and a test renders every known line in both languages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

STATES_ES = {"new": "nueva", "open": "abierta", "pending": "pendiente",
             "resolved": "resuelta", "closed": "cerrada"}
TYPES_ES = {"incident": "incidencia", "question": "pregunta", "request": "solicitud"}

Replacement = str | Callable[[re.Match[str]], str]

_ES: list[tuple[str, Replacement]] = [
    (r"answer queued for the customer", "respuesta en cola para el cliente"),
    (r"internal note added \(not sent to the customer\)",
     "nota interna añadida (no se envía al cliente)"),
    (r"status: (\w+)", lambda m: f"estado: {STATES_ES.get(m[1], m[1])}"),
    (r"assignee: (.*)", r"asignada a: \1"),
    (r"team: (.*) \(unassigned\)", r"equipo: \1 (sin asignar)"),
    (r"priority: (.*)", r"prioridad: \1"),
    (r"type: (\w+)", lambda m: f"tipo: {TYPES_ES.get(m[1], m[1])}"),
    (r"escalated to the next tier", "escalada al siguiente nivel"),
    (r"not escalated: already at the top tier", "no escalada: ya está en el nivel más alto"),
    (r"tag: (.*)", r"etiqueta: \1"),
    (r"knowledge base draft made from this answer",
     "borrador de la base de conocimiento creado a partir de esta respuesta"),
    (r"merged into (\S+): (\S+) now points there", r"fusionada en \1: \2 apunta ahora allí"),
    (r"message <(.*)> moved to (\S+)", r"mensaje <\1> movido a \2"),
    (r"split off into (\S+) \((\d+) message\(s\)\), assigned to nobody",
     r"separada en \1 (\2 mensaje(s)), sin asignar"),
    (r"split off into (\S+) \((\d+) message\(s\)\), assigned to team (.*)",
     r"separada en \1 (\2 mensaje(s)), asignada al equipo \3"),
    (r"split off into (\S+) \((\d+) message\(s\)\), assigned to (.*)",
     r"separada en \1 (\2 mensaje(s)), asignada a \3"),
    (r"#(merge|split|move): no ticket (.*)", r"#\1: no existe el ticket \2"),
    (r"#(merge|split|move): reply to the notification of the message to \w+ "
     r"\(this reply quotes no customer mail of (.*)\)",
     r"#\1: responda a la notificación del mensaje (esta respuesta no cita ningún correo "
     r"de cliente de \2)"),
    (r"(.*): one repair \(#merge, #split, #move\) per mail",
     r"\1: una sola reparación (#fusionar, #dividir, #mover) por correo"),
    (r"(.*): needs a ticket reference \(#(\w+) MD-42\)",
     r"\1: necesita la referencia de un ticket (#\2 MD-42)"),
    (r"(.*): takes no value, or `following` to take the mail after it too",
     r"\1: no admite valor, o `siguientes` para llevarse también el correo posterior"),
    (r"#(\w+): cannot be combined with #note \(send the note apart\)",
     r"#\1: no se puede combinar con #nota (envíe la nota aparte)"),
    (r"#(\w+): (\S+) cannot be merged into itself", r"#\1: \2 no se puede fusionar consigo misma"),
    (r"#(\w+): (\S+) is already merged into another ticket",
     r"#\1: \2 ya está fusionada en otro ticket"),
    (r"#(\w+): (\S+) is itself merged into another ticket; merge into that one",
     r"#\1: \2 ya está fusionada en otro ticket; fusione en ese"),
    (r"#(\w+): nothing received would stay on (\S+): that is the whole ticket",
     r"#\1: no quedaría ningún correo recibido en \2: es el ticket entero"),
    (r"#(\w+): message <(.*)> is already on (\S+)", r"#\1: el mensaje <\2> ya está en \3"),
    (r"#(\w+): (\S+) is merged into (\S+); move it there",
     r"#\1: \2 está fusionada en \3; muévalo allí"),
    (r"#(\w+): (\S+) is merged; split the ticket it was merged into",
     r"#\1: \2 está fusionada; divida el ticket en el que se fusionó"),
    (r"#(\w+): message <(.*)> was not written to the desk by someone: only a received mail "
     r"can start a ticket of its author",
     r"#\1: el mensaje <\2> no es un correo recibido: solo un correo recibido puede abrir "
     r"un ticket de su autor"),
    (r"unknown command: (.*)", r"comando desconocido: \1"),
    (r"(.*): needs a value \(#(\w+) …\)", r"\1: necesita un valor (#\2 …)"),
    (r"(.*): #(\w+) takes no value", r"\1: #\2 no admite ningún valor"),
    (r"(.*): conflicts with another status", r"\1: contradice otro cambio de estado"),
    (r"(.*): unknown state \(use open, pending, resolved or closed\)",
     r"\1: estado desconocido (use abierto, pendiente, resuelto o cerrado)"),
    (r"(.*): unknown priority \(use one of (.*)\)", r"\1: prioridad desconocida (use \2)"),
    (r"(.*): two different priorities", r"\1: dos prioridades distintas"),
    (r"(.*): unknown type \(use incident, question or request\)",
     r"\1: tipo desconocido (use incidencia, pregunta o solicitud)"),
    (r"(.*): two different types", r"\1: dos tipos distintos"),
    (r"(.*): a tag is one word \(letters, digits, \. _ -\)",
     r"\1: una etiqueta es una sola palabra (letras, dígitos, . _ -)"),
    (r"(.*): unknown team (.*) \(teams: (.*)\)", r"\1: equipo desconocido \2 (equipos: \3)"),
    (r"(.*): assign to an agent or a team, not both",
     r"\1: asigne a un agente o a un equipo, no a ambos"),
    (r"(.*): two different teams", r"\1: dos equipos distintos"),
    (r"(.*): two different agents", r"\1: dos agentes distintos"),
    (r"(.*): no agent (.*) \(use an agent's e-mail or full name, or team:NAME\)",
     r"\1: no hay ningún agente \2 (use el correo o el nombre completo de un agente, "
     r"o equipo:NOMBRE)"),
    (r"participant added: (.*)", r"participante añadido: \1"),
    (r"participant removed: (.*)", r"participante quitado: \1"),
    (r"(.*): use #cc add ADDRESS or #cc remove ADDRESS",
     r"\1: use #copia añadir DIRECCIÓN o #copia quitar DIRECCIÓN"),
    (r"(.*): not an e-mail address: (.*)", r"\1: no es una dirección de correo: \2"),
    (r"#cc (.*): both added and removed", r"#copia \1: añadida y quitada a la vez"),
    (r"(.*): (.*) is not a participant", r"\1: \2 no participa en esta solicitud"),
    (r"(.*): (.*) is the ticket's customer", r"\1: \2 es el cliente de la solicitud"),
    (r"(.*): (.*) is a desk address", r"\1: \2 es una dirección de la mesa de ayuda"),
    (r"(.*): (.*) is an agent", r"\1: \2 es un agente"),
    (r"(.*): (.*) is a machine address", r"\1: \2 es una dirección automática"),
    (r"(.*): (.*) is not an e-mail address", r"\1: \2 no es una dirección de correo"),
    (r"(.*): (.*): the domain (.*) is never added",
     r"\1: \2: el dominio \3 nunca se añade ([participants] excluded_domains)"),
    (r"#note: the note is empty \(write it below the commands\)",
     "#nota: la nota está vacía (escríbala debajo de los comandos)"),
    (r"#kb: an internal note cannot be the documented solution",
     "#kb: una nota interna no puede ser la solución documentada"),
    (r"#kb: no answer to document yet \(write it below the commands\)",
     "#kb: todavía no hay ninguna respuesta que documentar (escríbala debajo de los comandos)"),
    # #time, #macro, #send, #drop (agents/timelog.py, macros.py, collisions.py)
    (r"time logged: (.*)", r"tiempo registrado: \1"),
    (r"(.*): not a duration \(use 45, 30m or 1h15m\)",
     r"\1: no es una duración (use 45, 30m o 1h15m)"),
    (r"(.*): the time must be more than 0 minutes", r"\1: el tiempo debe ser mayor que 0 minutos"),
    (r"(.*): more than 24 hours in one entry", r"\1: más de 24 horas en una sola anotación"),
    (r"(.*): #send and #drop: choose one", r"\1: #enviar y #descartar: elija uno"),
    (r"#(send|drop): write nothing else \(the held answer goes as it was\)",
     r"#\1: no escriba nada más (la respuesta retenida se envía tal como estaba)"),
    (r"macro used: (.*)", r"plantilla usada: \1"),
    (r"(.*): no macro (.*) \(macros: (.*)\)", r"\1: no hay ninguna plantilla \2 (plantillas: \3)"),
    (r"(.*): cannot render: (.*)", r"\1: no se puede generar: \2"),
    (r"answer held: (.*) answered this ticket (.*) ago; reply #send or #drop",
     r"respuesta retenida: \1 respondió a esta solicitud hace \2; responda #enviar o #descartar"),
    (r"held answer sent to the customer", "respuesta retenida enviada al cliente"),
    (r"held answer dropped \(not sent\)", "respuesta retenida descartada (no se envía)"),
    (r"#(send|drop): no held answer of yours on this ticket",
     r"#\1: no tiene ninguna respuesta retenida en esta solicitud"),
]
_TABLES = {"es": [(re.compile(f"^{pattern}$"), replacement) for pattern, replacement in _ES]}


def translate(line: str, language: str) -> str:
    """Pure: `line` in `language` when the table knows it, else unchanged."""
    for pattern, replacement in _TABLES.get(language, ()):
        match = pattern.match(line)
        if match:
            return replacement(match) if callable(replacement) else match.expand(replacement)
    return line


def translate_all(lines: Sequence[str], language: str) -> tuple[str, ...]:
    return tuple(translate(line, language) for line in lines)
