"""`python -m codegen` runs aether-gen."""

from codegen.cli import main

main()
