"""The ``opjax`` command line.

opjax train [RECIPE.toml] [--set key=value ...]  train; writes a run directory (no recipe:
                                                 the built-in Burgers example)
opjax train --resume RUN_DIR                     continue an interrupted run
opjax finetune RECIPE.toml [--set key=value ...] train from pretrained weights (the recipe's
                                                 [finetune] checkpoint, e.g. Poseidon-T)
opjax evaluate RUN_DIR [--data [NAME=]FILE ...] [--rollout N]
                                                 errors, tables and plots of a run
opjax generate RECIPE.toml [--set key=value ...] write a dataset (HDF5) from a dataset recipe
opjax data info FILE [--format NAME]             what a dataset file holds (format detected)
opjax benchmark SUITE.toml [--set key=value ...] train and evaluate a suite; results table
opjax convert neuralop CKPT_DIR OUT [--name NAME] a neuraloperator FNO/TFNO checkpoint -> OUT
opjax convert poseidon HF_DIR OUT                a Poseidon scOT checkpoint folder -> OUT
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from opjax.convert.neuralop import convert_neuralop_cli
from opjax.convert.poseidon import convert_poseidon_cli
from opjax.data.errors import DataFormatError
from opjax.data.formats import open_dataset
from opjax.data.generation import generate, load_dataset_recipe
from opjax.data.info import describe
from opjax.evaluation.report import markdown_table
from opjax.runs.directory import CONFIG, REPORT
from opjax.training.recipe import load_recipe
from opjax.workflows.benchmark import run_suite, suite_markdown
from opjax.workflows.evaluate import evaluate_run
from opjax.workflows.train import train

log = logging.getLogger("opjax")

# `opjax train` with no recipe: generate a small Burgers dataset, train a 1D FNO.
DEFAULT_RECIPE = Path(__file__).parent / "defaults" / "fno_burgers1d.toml"

# Bad input and environment problems (a missing file, a full disk) get one clear line.
USER_ERRORS = (DataFormatError, OSError, KeyError, ValueError)


def _train(args) -> int:
    if args.resume:
        if args.recipe or args.set:
            raise ValueError(
                "--resume continues a run as it was configured; give no recipe or --set"
            )
        recipe = load_recipe(os.path.join(args.resume, CONFIG))
        recipe["run_dir"] = args.resume
    else:
        recipe = load_recipe(args.recipe or DEFAULT_RECIPE, args.set)
        if args.verb == "finetune" and not recipe["finetune"]["checkpoint"]:
            raise ValueError(
                f"{args.recipe}: finetune.checkpoint is not set: name the pretrained weights "
                "(a run directory or a Poseidon checkpoint folder), or use 'opjax train'"
            )
    result = train(recipe, resume=bool(args.resume), progress=not args.quiet)
    results = evaluate_run(result.run_dir)
    _print_results(result.run_dir, results)
    return 0


def _generate(args) -> int:
    recipe = load_dataset_recipe(args.recipe, args.set)
    for split, path in generate(recipe, progress=not args.quiet).items():
        print(f"{split}: {path} ({recipe['splits'][split]['n_samples']} samples)")
    return 0


def _data_info(args) -> int:
    with open_dataset(args.file, args.format) as file:
        print(describe(file), end="")
    return 0


def _benchmark(args) -> int:
    table = run_suite(
        args.suite,
        overrides=args.set,
        runs_dir=args.runs_dir,
        results_dir=args.results_dir,
        progress=not args.quiet,
    )
    print(suite_markdown(table), end="")
    return 0


def _convert_poseidon(args) -> int:
    out = convert_poseidon_cli(args.hf_dir, args.out)
    print(f"converted {args.hf_dir} -> {out} (load with opjax.load({str(out)!r}))")
    return 0


def _convert_neuralop(args) -> int:
    out = convert_neuralop_cli(args.checkpoint, args.out, name=args.name)
    print(f"converted {args.checkpoint} -> {out} (load with opjax.load({str(out)!r}))")
    return 0


def _evaluate(args) -> int:
    files = None
    if args.data:
        files = {}
        for item in args.data:
            name, _, path = item.rpartition("=")
            files[name or os.path.splitext(os.path.basename(path))[0]] = path
    results = evaluate_run(args.run_dir, files, checkpoint=args.checkpoint, rollout=args.rollout)
    _print_results(args.run_dir, results)
    return 0


def _print_results(run_dir: str, results: dict) -> None:
    print(markdown_table(results), end="")
    print(f"report written to {os.path.join(run_dir, REPORT)}")


def _add_set_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--set KEY=VALUE`` (repeatable): a recipe override parsed as a TOML value."""
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opjax", description="Neural operators in JAX.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    verbs = parser.add_subparsers(dest="verb", required=True)

    train = verbs.add_parser("train", help="train a model from a recipe")
    train.add_argument(
        "recipe",
        nargs="?",
        help="a training recipe (TOML); default: a 1D FNO on a generated Burgers dataset",
    )
    _add_set_option(train, "override a recipe key, e.g. --set optimizer.lr=1e-3")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    finetune = verbs.add_parser(
        "finetune", help="train from pretrained weights (a recipe with [finetune] checkpoint)"
    )
    finetune.add_argument("recipe", nargs="?", help="a fine-tuning recipe (TOML)")
    _add_set_option(finetune, "override a recipe key, e.g. --set finetune.checkpoint=PATH")
    finetune.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    finetune.add_argument("--quiet", action="store_true", help="no progress bar")
    finetune.set_defaults(func=_train)

    evaluate = verbs.add_parser("evaluate", help="evaluate a run on test files")
    evaluate.add_argument("run_dir")
    evaluate.add_argument(
        "--data",
        action="append",
        metavar="[NAME=]FILE",
        help="a test file (repeatable); default: the recipe's test sets",
    )
    evaluate.add_argument("--checkpoint", choices=("latest", "best"), default="latest")
    evaluate.add_argument(
        "--rollout",
        type=int,
        default=0,
        metavar="N",
        help="also roll the model out N steps on each test trajectory (errors vs time)",
    )
    evaluate.set_defaults(func=_evaluate)

    generate = verbs.add_parser("generate", help="write a dataset from a dataset recipe")
    generate.add_argument("recipe", help="a dataset recipe (TOML), e.g. datasets/ks1d.toml")
    _add_set_option(generate, "override a recipe key, e.g. --set splits.train=64")
    generate.add_argument("--quiet", action="store_true", help="no progress bar")
    generate.set_defaults(func=_generate)

    benchmark = verbs.add_parser("benchmark", help="train and evaluate a benchmark suite")
    benchmark.add_argument("suite", help="a suite (TOML), e.g. evaluation/suites/cpu_quick.toml")
    _add_set_option(benchmark, "override a recipe key in every run, e.g. --set train.epochs=2")
    benchmark.add_argument("--runs-dir", default="runs/benchmark", help="where runs are kept")
    benchmark.add_argument(
        "--results-dir", help="where the table goes (default: evaluation/results next to suites/)"
    )
    benchmark.add_argument("--quiet", action="store_true", help="no progress bar")
    benchmark.set_defaults(func=_benchmark)

    convert = verbs.add_parser("convert", help="import checkpoints of other libraries")
    convert_verbs = convert.add_subparsers(dest="convert_verb", required=True)
    neuralop = convert_verbs.add_parser(
        "neuralop", help="a neuraloperator FNO/TFNO checkpoint (save_checkpoint's files)"
    )
    neuralop.add_argument("checkpoint", help="the folder (or one of its two files)")
    neuralop.add_argument("out", help="the opjax model directory to write")
    neuralop.add_argument("--name", help="the checkpoint's save_name, if the folder holds several")
    neuralop.set_defaults(func=_convert_neuralop)
    poseidon = convert_verbs.add_parser(
        "poseidon", help="a Poseidon scOT checkpoint (a Hugging Face folder as downloaded)"
    )
    poseidon.add_argument("hf_dir", help="the folder with config.json and the weights")
    poseidon.add_argument("out", help="the opjax model directory to write")
    poseidon.set_defaults(func=_convert_poseidon)

    data = verbs.add_parser("data", help="inspect dataset files")
    data_verbs = data.add_subparsers(dest="data_verb", required=True)
    info = data_verbs.add_parser("info", help="format, fields, shapes, splits and sizes")
    info.add_argument("file")
    info.add_argument("--format", help="the file's format (default: detected)")
    info.set_defaults(func=_data_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    # basicConfig does nothing when an import (absl) has configured the root logger already.
    logging.getLogger("opjax").setLevel(level)
    # Orbax logs through absl, also when it fails in its background threads; the error
    # reaches this process as an exception, which gets its one line below. Without
    # --verbose, absl's lines (notes on read-only directories, errors then re-raised) stay
    # out of the terminal.
    logging.getLogger("absl").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)
    try:
        return args.func(args)
    except USER_ERRORS as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"opjax: error: {message}", file=sys.stderr)
        return 2
    except FloatingPointError as err:
        print(f"opjax: error: {err}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
