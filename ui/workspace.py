"""This session's workspace: its token in the address (``?ws=``), its runs and Train form on disk.

The token comes from the address when it holds one, else from this session, else it is new; every
page puts it back in the address, so the link a student bookmarks or reloads always finds their work.
"""
from __future__ import annotations

import streamlit as st

from explorer.workspace import Workspace, is_token, load_workspace, new_token, save_workspace
from ui.resources import run_store

WORKSPACE_PARAM = "ws"


def workspace_token() -> str:
    token = st.query_params.get(WORKSPACE_PARAM)
    if not is_token(token):
        token = st.session_state.get("workspace_token") or new_token()
    st.session_state["workspace_token"] = token
    if st.query_params.get(WORKSPACE_PARAM) != token:
        st.query_params[WORKSPACE_PARAM] = token
    return token


def workspace() -> Workspace:
    """Read from disk on every call: another tab of the same workspace may have changed it."""
    return load_workspace(run_store(), workspace_token())


def save(workspace_: Workspace) -> None:
    save_workspace(run_store(), workspace_)
