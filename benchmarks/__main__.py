"""``python -m benchmarks``: see ``python -m benchmarks --help``."""

if __name__ == "__main__":
    from benchmarks._cli import main

    raise SystemExit(main())
