"""Storm for Blender: send a scene's render to a Storm server from Properties > Render.

Validate (the server's entries, with fixers to apply), Open in Composer (a draft in the web
UI) and Submit (returns at once; follow the frames becoming a movie in the Monitor). Network
work runs in a worker thread; Blender's UI never waits for the server. See docs/blender.md
in the Storm repository.
"""

bl_info = {
    "name": "Storm",
    "author": "Storm",
    "version": (1, 1, 0),
    "blender": (4, 2, 0),
    "location": "Properties > Render > Storm",
    "description": "Validate, compose and submit render jobs to a Storm server",
    "category": "Render",
}

VERSION = ".".join(str(v) for v in bl_info["version"])


def register() -> None:
    from . import operators, panel, properties

    properties.register()
    operators.register()
    panel.register()


def unregister() -> None:
    from . import background, operators, panel, properties, status

    background.stop()
    panel.unregister()
    operators.unregister()
    properties.unregister()
    status.clear()
