"""kbsync's core: validation, AWS access, the sync engine, the store, history and the sandbox.

Nothing here imports streamlit: the console (pages/) and the JSON routes only translate between
their users and these modules.
"""
