"""The customer-facing pages of web.py, in English and Spanish: plain, accessible HTML.

No JavaScript, no external resources: a heading structure screen readers can walk, a
`lang` attribute, labelled form fields, and readable text without any style sheet.
Jinja2 with autoescaping, so nothing a customer or agent wrote can become markup.
"""

from __future__ import annotations

from typing import Any

from jinja2 import DictLoader, Environment, select_autoescape

TEXT = {
    "en": {
        "thanks_title": "Thank you for your rating",
        "thanks": "We have recorded your rating of {score} out of 5 for request {ref}.",
        "comment_label": "Would you like to tell us more? (optional)",
        "send": "Send comment",
        "comment_thanks_title": "Thank you for your comment",
        "comment_thanks": "Your comment on request {ref} has been recorded.",
        "invalid_title": "This link is not valid",
        "invalid": "This link is not valid. Please use the link from our e-mail, or reply "
                   "to that e-mail instead.",
        "expired_title": "This link has expired",
        "expired": "This link has expired. You can still reply to our e-mail.",
        "status_title": "Request {ref}",
        "state": "Status",
        "opened": "Opened",
        "history": "History",
        "you": "You",
        "us": "Support",
        "other": "Someone else ({who})",
        "no_messages": "No messages yet.",
        "not_found": "We could not find this request.",
        "states": {"new": "Received", "open": "In progress", "pending": "Waiting for your answer",
                   "resolved": "Resolved", "closed": "Closed"},
    },
    "es": {
        "thanks_title": "Gracias por su valoración",
        "thanks": "Hemos registrado su valoración de {score} sobre 5 para la solicitud {ref}.",
        "comment_label": "¿Quiere contarnos algo más? (opcional)",
        "send": "Enviar comentario",
        "comment_thanks_title": "Gracias por su comentario",
        "comment_thanks": "Hemos registrado su comentario sobre la solicitud {ref}.",
        "invalid_title": "Este enlace no es válido",
        "invalid": "Este enlace no es válido. Utilice el enlace de nuestro correo o responda "
                   "a ese correo.",
        "expired_title": "Este enlace ha caducado",
        "expired": "Este enlace ha caducado. Puede seguir respondiendo a nuestro correo.",
        "status_title": "Solicitud {ref}",
        "state": "Estado",
        "opened": "Abierta",
        "history": "Historial",
        "you": "Usted",
        "us": "Soporte",
        "other": "Otra persona ({who})",
        "no_messages": "Todavía no hay mensajes.",
        "not_found": "No hemos encontrado esta solicitud.",
        "states": {"new": "Recibida", "open": "En curso", "pending": "Esperando su respuesta",
                   "resolved": "Resuelta", "closed": "Cerrada"},
    },
}

LAYOUT = """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · {{ desk_name }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 42rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.5; color: #1a1a1a; background: #fff; }
textarea { width: 100%; font: inherit; }
button { font: inherit; padding: .4rem 1rem; }
.message { border-top: 1px solid #767676; padding: .5rem 0; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
</style>
</head>
<body>
<header><p>{{ desk_name }}</p></header>
<main>
<h1>{{ title }}</h1>
{% block main %}{% endblock %}
</main>
</body>
</html>
"""

PAGES = {
    "layout": LAYOUT,
    "message": """{% extends "layout" %}{% block main %}<p>{{ message }}</p>{% endblock %}""",
    "survey": """{% extends "layout" %}{% block main %}
<p>{{ message }}</p>
<form method="post">
<p><label for="comment">{{ t.comment_label }}</label></p>
<p><textarea id="comment" name="comment" rows="6" maxlength="4000">{{ comment }}</textarea></p>
<p><button type="submit">{{ t.send }}</button></p>
</form>
{% endblock %}""",
    "status": """{% extends "layout" %}{% block main %}
<p>{{ subject }}</p>
<dl>
<dt>{{ t.state }}</dt><dd>{{ state }}</dd>
<dt>{{ t.opened }}</dt><dd>{{ opened }}</dd>
</dl>
<h2>{{ t.history }}</h2>
{% for m in messages %}
<article class="message">
<h3>{{ m.author }} · <time datetime="{{ m.iso }}">{{ m.when }}</time></h3>
<div class="text">{{ m.text }}</div>
</article>
{% else %}
<p>{{ t.no_messages }}</p>
{% endfor %}
{% endblock %}""",
}

ENV = Environment(loader=DictLoader(PAGES),
                  autoescape=select_autoescape(default=True, default_for_string=True))


def texts(language: str | None) -> dict[str, Any]:
    return TEXT["es" if language == "es" else "en"]


def render(page: str, language: str | None, **context: Any) -> str:
    lang = "es" if language == "es" else "en"
    return ENV.get_template(page).render(lang=lang, t=TEXT[lang], **context)
