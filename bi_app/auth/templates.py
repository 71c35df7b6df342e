"""Server-rendered HTML for the login and "not allowed" pages (no Dash, no CDN, no script).

Every interpolated value goes through :func:`html.escape`; no inline style or script, so the
pages work under the strict Content-Security-Policy the views send.
"""

from __future__ import annotations

from html import escape

from bi_app.i18n import _, current_locale

USERNAME_ID = "login-username"
PASSWORD_ID = "login-password"
SUBMIT_ID = "login-submit"
ERROR_ID = "login-error"
FORM_ID = "login-form"

_PAGE = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · bi-app</title>
<link rel="stylesheet" href="{css}">
</head>
<body class="bg-body-tertiary">
<main class="container py-5"><div class="row justify-content-center pt-5">
<div class="col-12 col-sm-9 col-md-6 col-lg-4">
<h1 class="h3 mb-4 text-center">bi-app</h1>
{body}
</div></div></main>
</body>
</html>
"""


def _page(title: str, body: str, prefix: str) -> str:
    return _PAGE.format(
        lang=current_locale(),
        title=escape(title),
        css=escape(f"{prefix}assets/vendor/bootstrap.min.css"),
        body=body,
    )


def render_login(
    *, csrf: str, next_path: str, prefix: str = "/", username: str = "", error: str | None = None
) -> str:
    alert = (
        f'<div id="{ERROR_ID}" class="alert alert-danger" role="alert">{escape(error)}</div>'
        if error
        else ""
    )
    sign_in, user_label, password_label = _("Sign in"), _("Username"), _("Password")
    body = f"""<div class="card shadow-sm"><div class="card-body p-4">
<h2 class="h5 mb-3">{escape(sign_in)}</h2>
{alert}
<form id="{FORM_ID}" method="post" action="{escape(prefix)}login" autocomplete="on">
<input type="hidden" name="csrf_token" value="{escape(csrf)}">
<input type="hidden" name="next" value="{escape(next_path)}">
<div class="mb-3">
<label class="form-label" for="{USERNAME_ID}">{escape(user_label)}</label>
<input class="form-control" id="{USERNAME_ID}" name="username" value="{escape(username)}"
 autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus>
</div>
<div class="mb-3">
<label class="form-label" for="{PASSWORD_ID}">{escape(password_label)}</label>
<input class="form-control" id="{PASSWORD_ID}" name="password" type="password"
 autocomplete="current-password" required>
</div>
<button class="btn btn-primary w-100" id="{SUBMIT_ID}" type="submit">{escape(sign_in)}</button>
</form>
</div></div>"""
    return _page(sign_in, body, prefix)


def render_message(
    title: str,
    message: str,
    *,
    prefix: str = "/",
    link_text: str | None = None,
    link: str | None = None,
) -> str:
    """A small page for 400/403/429 answers: a heading, a sentence and a way back."""
    back = link_text or _("Back")
    body = (
        f'<div class="alert alert-warning" role="alert"><h2 class="h5">{escape(title)}</h2>'
        f'<p class="mb-2">{escape(message)}</p>'
        f'<a href="{escape(link or prefix)}">{escape(back)}</a></div>'
    )
    return _page(title, body, prefix)
