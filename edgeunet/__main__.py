"""`python -m edgeunet` is the CLI (this is also what `torchrun -m edgeunet` runs)."""

from edgeunet.cli import main

if __name__ == "__main__":
    main()
