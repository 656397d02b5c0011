"""The web console served by the mock at ``/_mock/ui``.

Static HTML, CSS and JavaScript shipped in the package (``static/``; no
build step, no CDN), the routes that serve them and the console's own
endpoints (:mod:`mockserver.console.routes`), the live event stream
(:mod:`mockserver.console.events`), the trigger (:mod:`mockserver.console.trigger`)
and their admin OpenAPI entries (:mod:`mockserver.console.openapi`).
"""
