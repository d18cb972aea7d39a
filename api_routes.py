"""The JSON API's Starlette routes, mounted beside the console by app.py (issue 4 fills this)."""


def api_routes() -> list:
    return []
