"""The console: the controller's staff's web app, on its own listener (``vigie serve``).

Server-rendered pages (Jinja2, htmx for partial updates, every asset served from the
package), reached by operators (:mod:`vigie.console.operators`) who sign in with a
password and a TOTP code (:mod:`vigie.console.auth`), hold a server-side session
(:mod:`vigie.console.sessions`) and act within their role (:mod:`vigie.console.roles`).
Pages call the same domain functions as the CLI; every change they make is audited with
the operator as actor (``operator:<login>``).
"""
