"""rootlesskit-py: a Python reimplementation of RootlessKit and Docker's rootless-mode helpers."""
