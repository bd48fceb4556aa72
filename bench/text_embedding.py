"""Benchmark: embedding sentences in length-grouped batches vs padding every batch to a fixed length.

Both sides embed the same sentences (a balanced mix of lesson 10's domains: Amazon, Yelp, IMDB,
Rotten Tomatoes, SST-2, airline tweets) with the same frozen all-MiniLM-L6-v2 encoder, the same
batch size and the same traced encoder function (lesson 10's ``embed_sentences``, caching off),
in one run of this script: first length-grouped, then padded to ``--fixed`` tokens (the model's
maximum, 256). It prints wall and CPU seconds for each, the ratio, the token positions each way
computed, and checks that both give the same embeddings.

Usage (from the repository root, ``COURSE_MIRROR`` set for the sentiment data)::

    python bench/text_embedding.py                 # 600 sentences (about a minute on 2 cores)
    python bench/text_embedding.py --sentences 120 # quick
    python bench/text_embedding.py --out results.md

Expected: length-grouped batches at least 3x faster (the issue's bar; padding to 256 costs
about 10x the token positions for these sentences, whose median is ~20 tokens).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_RATIO = 3.0
DOMAINS = ["amazon", "yelp", "imdb", "rt_polarity", "sst2", "airline_tweets"]


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` sentences, an equal share from each domain, in a shuffled (not length-sorted) order."""
    import numpy as np

    from course_utils import datasets
    from course_utils.methods.text import balanced_sample

    per = max(2, n // len(DOMAINS))
    out = []
    for name in DOMAINS:
        s = datasets.load_sentences(name, "test" if name == "sst2" else None, verbose=False)
        out += s.take(balanced_sample(s.y, per, np.random.default_rng(seed))).texts
    order = np.random.default_rng(seed).permutation(len(out))
    return [out[i] for i in order]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--fixed", type=int, default=256, help="padded length of the slow side")
    parser.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import keras_hub
    import numpy as np

    from course_utils import text_encoders
    from course_utils.methods import text
    from course_utils.taught.text_transfer import embed_sentences, encode, length_batches

    texts = sentences(args.sentences)
    folder = text_encoders.preset_folder(verbose=False)
    backbone = keras_hub.models.BertBackbone.from_preset(folder)
    tokenizer = keras_hub.models.BertTokenizer.from_preset(folder, strip_accents=True)
    lengths = np.array([len(ids) for ids in encode(tokenizer, texts, args.fixed)])
    positions = {"grouped": text.padded_positions(lengths, length_batches(lengths, args.batch_size)),
                 "fixed": text.padded_positions(lengths, text.fixed_batches(len(texts), args.batch_size),
                                                fixed=args.fixed)}
    # Warm-up: trace the encoder function once (shared by both sides), on a few sentences.
    embed_sentences(backbone, tokenizer, texts[:8], args.batch_size, args.fixed, cache=False, verbose=False)
    results, embeddings = {}, {}
    for side, fixed in (("grouped", None), ("fixed", args.fixed)):
        wall, cpu = time.perf_counter(), cpu_seconds()
        embeddings[side] = embed_sentences(backbone, tokenizer, texts, args.batch_size, args.fixed,
                                           fixed_length=fixed, cache=False, verbose=False)
        results[side] = (time.perf_counter() - wall, cpu_seconds() - cpu)
        print(f"{side:8s} {results[side][0]:7.1f} s wall {results[side][1]:7.1f} s CPU "
              f"{positions[side]:>9,d} token positions", flush=True)
    same = float(np.abs(embeddings["grouped"] - embeddings["fixed"]).max())
    ratio = results["fixed"][0] / results["grouped"][0]
    cpu_ratio = results["fixed"][1] / results["grouped"][1]
    load = os.getloadavg()[0]
    table = "\n".join([
        f"{len(texts)} sentences (median {np.median(lengths):.0f} tokens, max {lengths.max()}), batch "
        f"{args.batch_size}, {platform.machine()}, {os.cpu_count()} CPUs, load average {load:.1f}",
        "",
        "| batches | wall s | CPU s | token positions |",
        "|---|---|---|---|",
        f"| grouped by length | {results['grouped'][0]:.1f} | {results['grouped'][1]:.1f} | "
        f"{positions['grouped']:,} |",
        f"| padded to {args.fixed} | {results['fixed'][0]:.1f} | {results['fixed'][1]:.1f} | "
        f"{positions['fixed']:,} |",
        "",
        f"length-grouped is {ratio:.1f}x faster (wall), {cpu_ratio:.1f}x less CPU; "
        f"{positions['fixed'] / positions['grouped']:.1f}x fewer token positions; "
        f"largest difference between the two embeddings {same:.1e}",
    ])
    print("\n" + table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")
    if same > 1e-4:
        print("FAIL: the two ways give different embeddings")
        return 1
    if ratio < TARGET_RATIO:
        print(f"below the {TARGET_RATIO}x target")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
