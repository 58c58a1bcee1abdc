"""This session's workspace: its token in the address (``?ws=``), its runs and Train form on disk.

The token comes from the address when it holds one, else from this session, else it is new; every
page puts it back in the address, so the link a student bookmarks or reloads always finds their work.
"""
from __future__ import annotations

import streamlit as st

from explorer.workspace import Workspace, is_token, load_workspace, new_token, save_workspace
from ui.resources import run_store

WORKSPACE_PARAM = "ws"
TEACHER_PARAM = "teacher"  # a lesson's teacher key: in the teacher's own link only
PRIVATE_PARAMS = (WORKSPACE_PARAM, TEACHER_PARAM)  # never in a shared view's link


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
    kept = load_workspace(run_store(), workspace_token())
    if kept.damaged:
        st.session_state["workspace_damaged"] = kept.damaged
    return kept


def damaged_notice() -> None:
    """Said once, where the sidebar is drawn: a workspace file that could not be read was set aside."""
    if aside := st.session_state.pop("workspace_damaged", None):
        st.warning(f"Your workspace's file on the server could not be read, so this workspace starts empty; the "
                   f"damaged file was kept as {aside} for the server's keeper.")


def save(workspace_: Workspace) -> None:
    save_workspace(run_store(), workspace_)
