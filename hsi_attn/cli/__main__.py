"""``python -m hsi_attn.cli``: the command line (also ``torchrun -m hsi_attn.cli``)."""

from hsi_attn.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
