"""Command line: ``python -m sklearn_lstm_reshape demo``."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_lstm_reshape",
        description="Reshape time-series data with the predictions of a Keras LSTM.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="the three strategies on the bundled weather series: one table, one figure"
    )
    demo.add_argument(
        "--output",
        default="sklearn_lstm_reshape_demo",
        help="folder for the figure (default: %(default)s)",
    )
    demo.add_argument(
        "--quick", action="store_true", help="fewer epochs and a smaller grid, for a smoke test"
    )
    demo.add_argument(
        "--n-jobs",
        type=int,
        default=2,
        help="parallel jobs of the grid search (default: %(default)s)",
    )
    args = parser.parse_args(argv)

    from ._demo import run_demo

    run_demo(args.output, quick=args.quick, n_jobs=args.n_jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
