"""The ``action2vec`` command: use a trained pipeline without writing code.

    action2vec embed VIDEO|DIR...         new videos -> nearest classes and words
    action2vec nearest TERM               nearest classes and words to a class name or words
    action2vec analogy "play piano" - piano + violin
    action2vec export [--out DIR]         class (and video) embeddings in word2vec format
    action2vec info FILE...               what a shard, model, sequence or export file holds
    action2vec conse VIDEO|DIR... --classes NAMES   zero-shot, no training (ConSE on I3D)

Results go to stdout, progress and messages to stderr. Exit status: 0 on success, 1 on an error
or when any video could not be embedded (the others are still printed and written), 2 on bad
usage. A folder given to ``embed`` stands for every file below it; a file that is not a video is
reported like any other that cannot be read.
"""

import argparse
import logging
import os
import re
import sys
from pathlib import Path

from action2vec import Action2VecError, __version__
from action2vec.paths import CLASSES, MODEL
from action2vec.stage import table

log = logging.getLogger("action2vec")


def side_by_side(classes, words, class_header="class"):
    """Nearest classes and nearest words as one numbered table."""
    rows = []
    for i in range(max(len(classes), len(words))):
        c = classes[i] if i < len(classes) else ("", "")
        w = words[i] if i < len(words) else ("", "")
        rows.append([i + 1, *c, *w])
    return table(rows, ["#", class_header, "cosine", "word", "cosine"])


def indent(text, prefix="  "):
    return "\n".join(prefix + line for line in text.splitlines())


def load(args):
    """The embedding of --project, with the --model checkpoint when one is given."""
    from action2vec.embedding import Action2Vec
    from action2vec.trained import Trained

    trained = Trained(args.project, args.model, args.device, progress=sys.stderr.isatty())
    log.info("model %s (%s, %d classes)", trained.model_path,
             trained.checkpoint.get("variant", "?"), len(trained.class_vectors))
    return Action2Vec(trained)


def vocab(args):
    return args.vocab or None  # 0: the whole vocabulary


# ---------------------------------------------------------------- subcommands


def read_labels(text):
    """--classes: a file with one name per line (read as --classes-file), or names separated
    by commas."""
    if os.path.exists(text) and not os.path.isdir(text):
        return read_classes_file(text, "--classes")
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise Action2VecError(f"--classes {text!r}: no class names")
    return names


def read_classes_file(path, option="--classes-file"):
    """--classes-file: class names, one per line; blank lines and lines starting with # are
    left out. A missing, empty or unreadable file (not a regular file, not UTF-8 text) and a
    name listed twice are errors naming the option and the file."""
    from action2vec.files import read_text

    text = read_text(path, f"{option} {path}")
    lines = {}  # name -> its line number
    for number, line in enumerate(text.splitlines(), 1):
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        if name in lines:
            raise Action2VecError(f"{option} {path}, line {number}: {name!r} is already "
                                  f"listed on line {lines[name]}")
        lines[name] = number
    if not lines:
        raise Action2VecError(f"{option} {path}: no class names (one per line; blank "
                              "lines and lines starting with # are left out)")
    return list(lines)


def files_under(folder):
    """(the files below ``folder``, sorted, and a note on what was left out or None): hidden
    files and folders (names starting with ".") are left out, as is what is not a file (a link
    to a folder or to nothing, a pipe). An unreadable folder is an error naming it."""
    def unreadable(exc):
        raise Action2VecError(f"{exc.filename}: cannot read this folder ({exc.strerror})")

    files, hidden, other = [], 0, 0
    for top, folders, names in os.walk(folder, onerror=unreadable):
        hidden += sum(name.startswith(".") for name in folders + names)
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        other += sum(os.path.islink(os.path.join(top, name)) for name in folders)
        for name in names:
            if name.startswith("."):
                continue
            path = os.path.join(top, name)
            if os.path.isfile(path):
                files.append(path)
            else:
                other += 1
    left_out = [f"{n} {what}" for n, what in ((hidden, "hidden files or folders"),
                                               (other, "entries that are not files")) if n]
    note = f"{folder}: left out {' and '.join(left_out)}" if left_out else None
    return sorted(files, key=lambda p: Path(p).parts), note


def video_files(paths):
    """The VIDEO arguments with each folder replaced by the files below it. A file that is not a
    video stays in, to be reported by the decode check; an empty folder is an error."""
    files = []
    for path in paths:
        if not os.path.isdir(path):
            files.append(path)
            continue
        found, note = files_under(path)
        if note:
            log.info("note: %s", note)
        if not found:
            raise Action2VecError(f"{path}: no files in this folder")
        files.extend(found)
    return files


def cmd_embed(args):
    from action2vec.export import (check_output_file, check_video_vectors_path,
                                   write_video_vectors)
    from action2vec.scoring import top_k

    if args.out:  # checked before anything is loaded: no work is lost at the end
        check_video_vectors_path(args.out)
    if args.plot:
        check_output_file(args.plot, "--plot")
    videos = video_files(args.videos)
    labels = (read_labels(args.classes) if args.classes else
              read_classes_file(args.classes_file) if args.classes_file else None)
    a2v = load(args)
    trained = a2v.trained
    source = (f"--classes-file {args.classes_file}" if args.classes_file else
              "--classes" if args.classes else
              str(trained.project / CLASSES))  # the project's own classes
    labels = labels or list(trained.class_vectors)
    label_vectors = a2v.encode_labels(labels, source)
    trained.space.vocabulary(vocab(args))  # the label space and its words before the long part
    if trained.features.get("random_init"):
        log.info("note: features come from a RANDOMLY initialised %s (seed %s), as the model's "
                 "did; see the README, 'Weights'", trained.features["extractor"].upper(),
                 trained.features.get("random_init_seed"))
    def report(path, message):
        print(f"error: {path}: {message}", file=sys.stderr, flush=True)

    matrix, results = a2v.encode_videos(videos, args.batch_size, normalised=False,
                                        on_error=report)
    vectors = [row if result.ok else None for row, result in zip(matrix, results)]
    failed = [r for r in results if not r.ok]
    for path, vector, result in zip(videos, vectors, results):
        if vector is None:
            continue
        print(f"{path}  ({result.clips} clips)")
        print(indent(side_by_side(top_k(vector, labels, label_vectors, args.top),
                                  trained.vocabulary.nearest_words(vector, args.top, (),
                                                                   vocab(args)))))
        print()
    done = [v for v in vectors if v is not None]
    if args.out and done:
        log.info("wrote %s", write_video_vectors(args.out, videos, vectors,
                                                  [r.clips for r in results],
                                                  trained.model_path))
    if args.plot and done:
        plot_videos(trained, args.plot, videos, vectors)
    if failed:
        print(f"{len(done)} of {len(videos)} videos embedded; {len(failed)} failed",
              file=sys.stderr)
        return 1
    return 0


def plot_videos(trained, path, paths, vectors):
    import numpy as np

    from action2vec.plots import tsne_png

    names, matrix = trained.classes
    new = [(Path(p).name, v) for p, v in zip(paths, vectors) if v is not None]
    tsne_png(path, np.concatenate([matrix, np.stack([v for _, v in new])]),
             names + [n for n, _ in new], trained.params["seed"],
             "New videos (red) among the class embeddings (t-SNE)", marked=len(new))
    log.info("wrote %s", path)


def cmd_nearest(args):
    from action2vec.scoring import top_k

    a2v = load(args)
    trained = a2v.trained
    term = a2v.term(" ".join(args.term))
    what = "class embedding" if term.kind == "class" else trained.space.kind
    print(f"{term.text}  ({what})")
    print(indent(side_by_side(top_k(term.vector, a2v.class_names, a2v.class_embeddings,
                                    args.top, exclude={term.text}),
                              trained.vocabulary.nearest_words(term.vector, args.top, term.words,
                                                               vocab(args)))))
    return 0


def parse_expression(tokens):
    """``["play piano", "-", "piano", "+", "violin"]`` (or one string of that) ->
    [(+1, "play piano"), (-1, "piano"), (+1, "violin")]. Operators stand apart from words."""
    parts = re.split(r"(?:^|\s)([+-])(?=\s|$)", " ".join(tokens).strip())
    terms, sign = [], 1
    if parts and not parts[0].strip():  # a leading operator
        parts = parts[1:]
        sign = -1 if parts and parts[0] == "-" else 1
        parts = parts[1:]
    for i, part in enumerate(parts):
        if i % 2:
            sign = 1 if part == "+" else -1
        elif not part.strip():
            raise Action2VecError(f"analogy: a term is missing in {' '.join(tokens)!r} "
                                  "(write e.g. \"play piano\" - piano + violin)")
        else:
            terms.append((sign, part.strip()))
    if not terms:
        raise Action2VecError("analogy: no terms (write e.g. \"play piano\" - piano + violin)")
    return terms


def analogy(a2v, tokens, k, vocab=None):
    """The paper's vector arithmetic (section 4.2.2) on any terms: the signed terms, the summed
    vector's nearest classes by Euclidean distance (the rule of Table 4) with their cosines,
    and its nearest words by cosine (the terms' own words left out)."""
    result = a2v.arithmetic(parse_expression(tokens), k)
    used = [w for _, term in result.terms for w in term.words]
    return (result.terms, result.classes,
            a2v.trained.vocabulary.nearest_words(result.vector, k, used, vocab))


def cmd_analogy(args):
    terms, classes, words = analogy(load(args), args.expression, args.top, vocab(args))
    print(" ".join(f"{'-' if sign < 0 else '+' if i else ''} {t.text} [{t.kind}]".strip()
                   for i, (sign, t) in enumerate(terms)))
    rows = [[i + 1, name, distance, cosine] for i, (name, distance, cosine) in enumerate(classes)]
    print(indent(table(rows, ["#", "nearest class", "distance", "cosine"])))
    print(indent(table([[i + 1, w, s] for i, (w, s) in enumerate(words)],
                       ["#", "nearest word", "cosine"])))
    return 0


def cmd_export(args):
    from action2vec.export import export

    for path in export(load(args).trained, args.out, args.videos, args.words):
        print(path)
    return 0


def cmd_info(args):
    from action2vec.info import describe

    status = 0
    for i, path in enumerate(args.files):
        try:
            rows = describe(path)
        except Action2VecError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
        print(("\n" if i else "") + str(path))
        print(indent(table([[k, v] for k, v in rows])))
    return status


def cmd_conse(args):
    from action2vec import conse, conse_command
    from action2vec.vectors import load_space

    if args.k < 1:
        print(f"error: -k must be at least 1, got {args.k}", file=sys.stderr)
        return 2
    videos = video_files(args.videos)
    labels = read_labels(args.classes)
    settings = conse_command.settings()  # ./params.yaml's, else the defaults
    top = settings["top"] if args.top is None else args.top
    conse.check_top(top)
    spec = args.vectors or settings["vectors"]
    log.info("loading the label vectors %s", spec)
    space = load_space(spec, args.device)
    label_vectors = conse_command.candidate_vectors(labels, space, settings)
    W, b = conse.logits_layer()
    kinetics, kinetics_vectors = conse.kinetics_vectors(space, settings["name_map"])
    failed = []

    def report(path, message):
        failed.append(path)
        print(f"error: {path}: {message}", file=sys.stderr, flush=True)

    features = conse_command.video_features(videos, report, settings, args.device,
                                            progress=sys.stderr.isatty())
    for path, clips in zip(videos, features):
        if clips is None:
            continue
        p = conse.video_probabilities(clips, W, b)
        vector = conse.conse_embedding(p, kinetics_vectors, top)
        print(f"{path}  ({len(clips)} clips)")
        for rows, headers in conse_command.video_tables(p, vector, labels, label_vectors,
                                                        kinetics, args.k, top):
            print(indent(table(rows, headers)))
        print()
    if failed:
        print(f"{len(videos) - len(failed)} of {len(videos)} videos embedded; {len(failed)} "
              "failed", file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------- arguments


def model_options(parser, neighbours=True):
    parser.add_argument("--project", default=".", metavar="DIR",
                        help="the DVC project whose outputs are used (default: .)")
    parser.add_argument("--model", metavar="PATH",
                        help="a checkpoint of the train stage (default: "
                             f"{MODEL}, trained on every class)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    if not neighbours:
        return
    parser.add_argument("-k", "--top", type=int, default=5, metavar="N",
                        help="how many neighbours to list (default: 5)")
    parser.add_argument("--vocab", type=int, default=30000, metavar="N",
                        help="search the N most frequent words for nearest words (default: "
                             "30000; 0: all; rare words have noisy vectors)")


def command(commands, name, run, summary, description):
    """A subcommand: ``summary`` in the command list, ``description`` in its --help."""
    sub = commands.add_parser(name, help=summary, description=description)
    sub.set_defaults(run=run)
    return sub


def parser():
    top = argparse.ArgumentParser(
        prog="action2vec",
        description="Use a trained Action2Vec pipeline (a DVC project's outputs) without "
                    "writing code.",
        epilog="Run `action2vec COMMAND --help` for each command. Exit status: 0 ok, 1 error "
               "or some videos failed, 2 bad usage.")
    top.add_argument("--version", action="version", version=f"action2vec {__version__}")
    top.add_argument("-q", "--quiet", action="store_true", help="only results and errors")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = command(
        commands, "embed", cmd_embed, "embed new videos; print their nearest classes and words",
        description="Run the trained pipeline (decode, features with the project's extractor "
                    "and weights, PCA, padding to the model's steps, HRNN) on video files and "
                    "print, for each, the nearest classes (cosine to the class names' word "
                    "vectors: zero-shot recognition) and the nearest vocabulary words. A "
                    "folder stands for every file below it, in sorted order (hidden files left "
                    "out, with a note). A file that cannot be read as a video is reported on "
                    "one line; the others go on, and the exit status is then 1.")
    p.add_argument("videos", nargs="+", metavar="VIDEO|DIR")
    labels = p.add_mutually_exclusive_group()
    labels.add_argument("--classes", metavar="NAMES|FILE",
                        help="candidate classes instead of the project's: comma-separated names "
                             "or a file with one per line; any name whose words are in the word "
                             "vectors")
    labels.add_argument("--classes-file", metavar="FILE",
                        help="candidate classes listed in FILE, one per line (blank lines and "
                             "lines starting with # left out; a name listed twice is an error)")
    p.add_argument("--out", metavar="FILE",
                   help="write the embeddings: .npy (one row per VIDEO, NaN if it failed) or "
                        ".h5 (with paths, ok flags and clip counts)")
    p.add_argument("--plot", metavar="PNG",
                   help="draw the videos among the class embeddings (t-SNE)")
    p.add_argument("--batch-size", type=int, metavar="N",
                   help="clips per forward pass (default: the project's features.batch_size)")
    model_options(p)

    p = command(
        commands, "nearest", cmd_nearest, "nearest classes and words to a class name or words",
        description="TERM is a class name (any spelling: \"throw ball\", ThrowBall, "
                    "throw_ball), whose vector is the mean embedding of its videos, or words, "
                    "whose vector is the mean of their word vectors. Prints the nearest classes "
                    "and vocabulary words by cosine.")
    p.add_argument("term", nargs="+", metavar="TERM")
    model_options(p)

    p = command(
        commands, "analogy", cmd_analogy, 'vector arithmetic: "play piano" - piano + violin',
        description="Add and subtract terms (class names or words; operators + and - stand "
                    "apart) and print the nearest classes by Euclidean distance, the rule of "
                    "the paper's Table 4, and the nearest words by cosine (the input words "
                    "left out).")
    p.add_argument("expression", nargs="+", metavar="TERM [+|- TERM]...")
    model_options(p)

    p = command(
        commands, "export", cmd_export,
        "write the embeddings in word2vec format (text and binary)",
        description="Write OUT/classes.txt and OUT/classes.bin (one vector per class, the mean "
                    "embedding of its videos, keyed by the name with underscores), optionally "
                    "OUT/videos.{txt,bin}, and OUT/metadata.json (dataset, params, metrics, "
                    "model). Load them with gensim.models.KeyedVectors.load_word2vec_format.")
    p.add_argument("--out", default="export", metavar="DIR", help="(default: export)")
    p.add_argument("--videos", action="store_true", help="also one vector per video")
    p.add_argument("--words", type=int, default=0, metavar="N",
                   help="also the N most frequent words of the word vectors, which share the "
                        "space, so analogies mixing classes and words work in gensim")
    model_options(p, neighbours=False)

    p = command(
        commands, "info", cmd_info,
        "what a feature shard, sequence file, model or export file holds",
        description="Describe files of a project: HDF5 feature and PCA shards, sequences.h5, "
                    "embed outputs, model checkpoints (.pt), word2vec files (.txt, .bin) and "
                    "export metadata (.json), numpy files.")
    p.add_argument("files", nargs="+", metavar="FILE")

    p = command(
        commands, "conse", cmd_conse,
        "zero-shot with no training: ConSE on the packaged I3D's Kinetics-400 classifier",
        description="ConSE (Norouzi et al. 2014), which needs no trained project: each video's "
                    "I3D Kinetics-400 probabilities (the mean of its clips' softmax) weight the "
                    "label vectors of its --top most probable Kinetics classes; the weighted "
                    "mean is ranked against the --classes' label vectors by cosine. Decoding "
                    "and extraction settings, the label space and name map come from "
                    "./params.yaml when there is one. A folder stands for every file below "
                    "it; a file that cannot be read as a video is reported on one line, the "
                    "others go on, and the exit status is then 1.")
    p.add_argument("videos", nargs="+", metavar="VIDEO|DIR")
    p.add_argument("--classes", required=True, metavar="NAMES|FILE",
                   help="candidate classes: comma-separated names or a file with one per line")
    p.add_argument("--top", type=int, metavar="T",
                   help="Kinetics classes whose label vectors are combined (default: conse.top "
                        "of ./params.yaml, else 10)")
    p.add_argument("--vectors", metavar="SPEC",
                   help="the label space (default: labels.vectors of ./params.yaml, else "
                        "glove-6b-50d)")
    p.add_argument("-k", type=int, default=5, metavar="N",
                   help="how many candidate classes to list (default: 5)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(message)s", stream=sys.stderr)
    logging.getLogger("action2vec.features").setLevel(logging.CRITICAL)  # embed reports its own
    logging.getLogger("action2vec.extractors").setLevel(logging.ERROR)
    logging.getLogger("gensim").setLevel(logging.ERROR)  # its notes on word2vec files
    for name, least in (("top", 1), ("batch_size", 1), ("words", 0), ("vocab", 0)):
        value = getattr(args, name, None)
        if value is not None and value < least:
            print(f"error: --{name.replace('_', '-')} must be at least {least}, got {value}",
                  file=sys.stderr)
            return 2
    try:
        return args.run(args)
    except Action2VecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
