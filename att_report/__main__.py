"""The `att-report` command (also `python -m att_report`)."""

import sys


def main() -> None:
    from att_report.runtime import set_process_defaults

    set_process_defaults()  # first: the fork server below and every worker inherit them
    # build and validate read agency files: start the reader workers' fork server before this
    # process loads the command line's own modules (a third of a second sooner; issue 7)
    if {"build", "validate"} & set(sys.argv[1:]):
        from att_report.intake import worker_server

        worker_server.warm()
    from att_report.cli import main as run_command

    run_command()


if __name__ == "__main__":
    main()
