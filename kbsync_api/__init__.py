"""The JSON API of the seeds over HTTP: the contract (statuses, bodies, auth) and its routes.

kbsync_core knows no HTTP: `contract` turns its answers and errors into statuses and JSON
bodies, and `routes` mounts them as Starlette routes beside the console.
"""
