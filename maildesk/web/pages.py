"""The customer-facing pages of the web endpoint, in English and Spanish: plain HTML.

No JavaScript, no external resources: a heading structure screen readers can walk, a
`lang` attribute, labelled form fields, and readable text without any style sheet.
The pages are packaged Jinja2 templates (maildesk/web/templates/*.html.j2), like the
mail templates, with autoescaping, so nothing a customer or agent wrote becomes markup.
Their wording is here, one table per language, so each template serves both.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

TEXT = {
    "en": {
        "form_title": "Contact support",
        "form_intro": "Tell us what you need. We will answer by e-mail; fields marked * are "
                      "required.",
        "form_legend": "Your request",
        "name": "Your name",
        "email": "Your e-mail address",
        "email_hint": "We send a confirmation there; your request is handled once it arrives.",
        "subject": "Subject",
        "description": "Description",
        "attachments": "Attachments (optional, up to {mb} MB in all)",
        "honeypot": "Leave this field empty",
        "submit": "Send request",
        "errors_title": "Please correct the following:",
        "required": "This field is required.",
        "too_long": "This is too long.",
        "bad_email": "Enter an e-mail address such as name@example.com.",
        "too_many_files": "Attach at most 10 files.",
        "form_expired": "This form had expired, or your browser did not send its cookie. "
                        "Please check the fields and send it again.",
        "too_large": "Your request is too large (more than {mb} MB). Send smaller "
                     "attachments, or fewer.",
        "received_title": "We have received your request",
        "received": "Your request has the reference {ref}. We have sent a confirmation to "
                    "{email}; reply to that e-mail to add anything.",
        "received_plain": "Thank you. We will answer by e-mail.",
        "limited_title": "Too many requests",
        "limited": "We have received several requests from you in a short time. Please wait "
                   "a while, or reply to our confirmation e-mail instead.",
        "unavailable_title": "Please try again shortly",
        "unavailable": "We could not take your request just now. Nothing was lost on your "
                       "side: please send the form again in a few minutes.",
        "survey_title": "Your rating for request {ref}",
        "survey_intro": "You chose {score} out of 5. You can change it and add a comment; "
                        "your answer is recorded when you press the button.",
        "score_legend": "Your rating (1 = bad, 5 = very good)",
        "comment_label": "Would you like to tell us more? (optional)",
        "send": "Send my rating",
        "thanks_title": "Thank you for your rating",
        "thanks": "We have recorded your rating of {score} out of 5 for request {ref}.",
        "bad_request_title": "We could not read your answer",
        "bad_request": "Please go back and send the form again.",
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
                   "resolved": "Resolved", "closed": "Closed",
                   "merged": "Joined to another request"},
    },
    "es": {
        "form_title": "Contactar con soporte",
        "form_intro": "Cuéntenos qué necesita. Le responderemos por correo; los campos "
                      "marcados con * son obligatorios.",
        "form_legend": "Su solicitud",
        "name": "Su nombre",
        "email": "Su dirección de correo",
        "email_hint": "Le enviaremos allí una confirmación; atenderemos su solicitud en "
                      "cuanto llegue.",
        "subject": "Asunto",
        "description": "Descripción",
        "attachments": "Adjuntos (opcional, hasta {mb} MB en total)",
        "honeypot": "Deje este campo vacío",
        "submit": "Enviar solicitud",
        "errors_title": "Corrija lo siguiente:",
        "required": "Este campo es obligatorio.",
        "too_long": "Es demasiado largo.",
        "bad_email": "Escriba una dirección de correo como nombre@ejemplo.es.",
        "too_many_files": "Adjunte como máximo 10 archivos.",
        "form_expired": "El formulario había caducado o su navegador no envió su cookie. "
                        "Revise los campos y envíelo de nuevo.",
        "too_large": "Su solicitud es demasiado grande (más de {mb} MB). Envíe adjuntos "
                     "más pequeños o menos adjuntos.",
        "received_title": "Hemos recibido su solicitud",
        "received": "Su solicitud tiene la referencia {ref}. Hemos enviado una confirmación "
                    "a {email}; responda a ese correo para añadir lo que quiera.",
        "received_plain": "Gracias. Le responderemos por correo.",
        "limited_title": "Demasiadas solicitudes",
        "limited": "Hemos recibido varias solicitudes suyas en poco tiempo. Espere un poco, "
                   "o responda a nuestro correo de confirmación.",
        "unavailable_title": "Inténtelo de nuevo en unos minutos",
        "unavailable": "No hemos podido recoger su solicitud en este momento. Envíe el "
                       "formulario de nuevo en unos minutos.",
        "survey_title": "Su valoración de la solicitud {ref}",
        "survey_intro": "Ha elegido {score} sobre 5. Puede cambiarla y añadir un comentario; "
                        "registraremos su respuesta cuando pulse el botón.",
        "score_legend": "Su valoración (1 = mala, 5 = muy buena)",
        "comment_label": "¿Quiere contarnos algo más? (opcional)",
        "send": "Enviar valoración",
        "thanks_title": "Gracias por su valoración",
        "thanks": "Hemos registrado su valoración de {score} sobre 5 para la solicitud {ref}.",
        "bad_request_title": "No hemos podido leer su respuesta",
        "bad_request": "Vuelva atrás y envíe el formulario de nuevo.",
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
                   "resolved": "Resuelta", "closed": "Cerrada",
                   "merged": "Unida a otra solicitud"},
    },
}

ENV = Environment(loader=PackageLoader("maildesk.web", "templates"),
                  autoescape=select_autoescape(enabled_extensions=("html.j2",), default=True),
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def texts(language: str | None) -> dict[str, Any]:
    return TEXT["es" if language == "es" else "en"]


def render(page: str, language: str | None, **context: Any) -> str:
    lang = "es" if language == "es" else "en"
    return ENV.get_template(f"{page}.html.j2").render(lang=lang, t=TEXT[lang], **context)
