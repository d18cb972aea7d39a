"""The console's shared Streamlit pieces: the shell, the connection sidebar, the execution panel.

Everything here only translates between the operator and kbsync_core; nothing worth testing
without a browser session lives here.
"""
