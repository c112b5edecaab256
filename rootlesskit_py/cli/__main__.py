"""`python -m rootlesskit_py.cli NAME ARGS...`: the Python entry point of the five programs."""

from rootlesskit_py.cli import main

main()
