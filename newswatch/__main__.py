"""`python -m newswatch` is the same as the `newswatch` command."""

from newswatch.cli import main

# Guarded: extraction workers are spawned processes, which import the main
# module again (as __mp_main__) and must not start a second newswatch.
if __name__ == "__main__":
    main()
