"""`python3 -m pytrace`, and the `pytrace` command (its entry point is `run`)."""


def run() -> int:
    # Ctrl-C while the command line's modules are still importing (the first
    # tens of milliseconds) ends the run as it would later: exit 130, no traceback.
    try:
        from pytrace.cli import main
    except KeyboardInterrupt:
        return 130
    return main()


if __name__ == "__main__":
    raise SystemExit(run())
