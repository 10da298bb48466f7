"""MNIST CNN Studio — the dashboard's entry point (placeholder until the pages land)."""

import streamlit as st

st.set_page_config(page_title="MNIST CNN Studio", page_icon=":material/draw:", layout="wide")
st.title("MNIST CNN Studio")
st.write(
    "Handwritten-digit recognition with a convolutional network. The dashboard is being built; "
    "meanwhile the command line trains, evaluates and predicts: see `python -m mnist --help`."
)
