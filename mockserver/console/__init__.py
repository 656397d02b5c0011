"""The web console served by the mock at ``/_mock/ui``.

Static HTML, CSS and JavaScript shipped in the package (``static/``; no
build step, no CDN), the routes that serve them and the console's own
endpoints (:mod:`mockserver.console.routes`), the live event stream
(:mod:`mockserver.console.events`) and the trigger (:mod:`mockserver.console.trigger`);
their admin OpenAPI entries are in the admin document's data
(``mockserver/http/admin_openapi.yaml``).
"""
