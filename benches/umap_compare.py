"""umap-learn on the vectors the Rust atlas laid out, with the same settings (cosine, 15
neighbours, min_dist 0.05, its default epoch count for this size), in its default configuration
(parallel, no seed) and seeded (random_state=0, which makes it single-threaded and reproducible).
Each configuration is fitted twice on the same vectors and the second fit is timed: the first
compiles umap-learn's and pynndescent's numba code for exactly this problem, as a user's first
run in a session would. Then trustworthiness (k = 15, scikit-learn, cosine in the original space)
of every layout on one fixed 8,000-point subsample."""
import argparse, os, time
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--dir", required=True)
parser.add_argument("--dim", type=int, required=True)
parser.add_argument("--ours-seconds", type=float, required=True)
args = parser.parse_args()
vectors = np.fromfile(os.path.join(args.dir, "vectors.f32"), dtype="<f4").reshape(-1, args.dim)
ours = np.fromfile(os.path.join(args.dir, "ours.f32"), dtype="<f4").reshape(-1, 2)

import umap  # noqa: E402 (imported after reading, so the import time is not in the fit time)
from sklearn.manifold import trustworthiness  # noqa: E402


def warm_fit(**extra):
    """Fits twice on the same vectors and times the second fit."""
    settings = dict(n_neighbors=15, min_dist=0.05, metric="cosine", **extra)
    umap.UMAP(**settings).fit_transform(vectors)
    start = time.perf_counter()
    layout = umap.UMAP(**settings).fit_transform(vectors)
    return time.perf_counter() - start, layout


default_seconds, default_layout = warm_fit()
seeded_seconds, seeded_layout = warm_fit(random_state=0)

rng = np.random.default_rng(0)
sample = rng.choice(len(vectors), size=min(8000, len(vectors)), replace=False)


def trust(layout):
    return trustworthiness(vectors[sample], layout[sample], n_neighbors=15, metric="cosine")


t_ours, t_default, t_seeded = trust(ours), trust(default_layout), trust(seeded_layout)
print(f"umap-learn {umap.__version__}, warm, defaults (parallel): {default_seconds:.2f} s, trustworthiness {t_default:.3f}")
print(f"umap-learn {umap.__version__}, warm, random_state=0 (one thread): {seeded_seconds:.2f} s, trustworthiness {t_seeded:.3f}")
print(f"ours (kNN + UMAP, seeded, deterministic): {args.ours_seconds:.2f} s, trustworthiness {t_ours:.3f}")
print(
    f"RESULT umap: n {len(vectors)}; ours {args.ours_seconds:.2f} s / T {t_ours:.3f}; "
    f"umap-learn default {default_seconds:.2f} s / T {t_default:.3f} (ours {default_seconds / args.ours_seconds:.2f}x its speed); "
    f"umap-learn seeded {seeded_seconds:.2f} s / T {t_seeded:.3f} (ours {seeded_seconds / args.ours_seconds:.2f}x its speed)"
)
