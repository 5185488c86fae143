"""umap-learn on the vectors the Rust atlas laid out, with the same settings (cosine, 15
neighbours, min_dist 0.05), timed; then trustworthiness (k = 15, scikit-learn, cosine in the
original space) of both layouts on one fixed 8,000-point subsample."""
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

# Warm the JIT on a small problem so the timing is of the fit, as for a user's second run.
umap.UMAP(n_neighbors=15, min_dist=0.05, metric="cosine").fit_transform(vectors[:500])
start = time.perf_counter()
theirs = umap.UMAP(n_neighbors=15, min_dist=0.05, metric="cosine", n_epochs=200).fit_transform(vectors)
seconds = time.perf_counter() - start

rng = np.random.default_rng(0)
sample = rng.choice(len(vectors), size=min(8000, len(vectors)), replace=False)
t_ours = trustworthiness(vectors[sample], ours[sample], n_neighbors=15, metric="cosine")
t_theirs = trustworthiness(vectors[sample], theirs[sample], n_neighbors=15, metric="cosine")
print(f"umap-learn {umap.__version__}: {seconds:.2f} s, trustworthiness {t_theirs:.3f}")
print(f"ours (kNN + UMAP): {args.ours_seconds:.2f} s, trustworthiness {t_ours:.3f}")
print(f"RESULT umap: ours {args.ours_seconds:.2f} s / T {t_ours:.3f}; umap-learn {seconds:.2f} s / T {t_theirs:.3f}; speed-up {seconds / args.ours_seconds:.1f}x")
