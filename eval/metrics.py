"""Retrieval and clustering metrics shared by the evaluation scripts (numpy only)."""
import numpy as np


def loo_from_rankings(labels, rankings, ap_at=None):
    """Leave-one-out retrieval figures from, for each query i, its ranked neighbour indices (i itself excluded).

    1-NN accuracy, mean precision@5 and @10, and mean average precision (a query whose class has no other member is
    skipped for mAP). With `ap_at=k`, AP@k: precision at each relevant hit within the top k, divided by
    min(relevant, k); without it, AP over the whole ranking given.
    """
    labels = np.asarray(labels)
    n = len(labels)
    nn1, p5, p10, aps = [], [], [], []
    for i in range(n):
        r = [j for j in rankings[i] if j != i]
        rel = np.array([labels[j] == labels[i] for j in r], dtype=float)
        n_rel = int((labels == labels[i]).sum()) - 1
        nn1.append(rel[0] if len(rel) else 0.0)
        p5.append(rel[:5].sum() / 5)
        p10.append(rel[:10].sum() / 10)
        if n_rel > 0:
            r_k = rel if ap_at is None else rel[:ap_at]
            hits = np.cumsum(r_k)
            denom = n_rel if ap_at is None else min(n_rel, ap_at)
            aps.append(float((r_k * hits / np.arange(1, len(r_k) + 1)).sum() / denom))
    return {"n": n, "1nn": float(np.mean(nn1)), "p@5": float(np.mean(p5)), "p@10": float(np.mean(p10)),
            "map": float(np.mean(aps))}


def exact_rankings(x, metric="cosine"):
    x = np.asarray(x, dtype=np.float64)
    if metric == "cosine":
        xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
        d = -(xn @ xn.T)
    else:
        d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return [list(np.argsort(row, kind="stable")[:-1]) for row in d]


def ari(labels_true, labels_pred):
    """Adjusted Rand index (Hubert and Arabie)."""
    from math import comb
    t = {v: i for i, v in enumerate(sorted(set(labels_true)))}
    p = {v: i for i, v in enumerate(sorted(set(labels_pred)))}
    m = np.zeros((len(t), len(p)), dtype=np.int64)
    for a, b in zip(labels_true, labels_pred):
        m[t[a], p[b]] += 1
    s = sum(comb(int(v), 2) for v in m.ravel())
    a = sum(comb(int(v), 2) for v in m.sum(1))
    b = sum(comb(int(v), 2) for v in m.sum(0))
    n = comb(int(m.sum()), 2)
    exp = a * b / n
    mx = (a + b) / 2
    return float((s - exp) / (mx - exp)) if mx != exp else 1.0


def kmeans(x, k, seed=0, iters=300, restarts=10):
    """k-means++ then Lloyd, best of `restarts` by inertia (squared Euclidean)."""
    x = np.asarray(x, dtype=np.float64)
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(restarts):
        c = [x[rng.integers(len(x))]]
        for _ in range(1, k):
            d = np.min(((x[:, None, :] - np.array(c)[None]) ** 2).sum(-1), axis=1)
            c.append(x[rng.choice(len(x), p=d / d.sum())] if d.sum() > 0 else x[rng.integers(len(x))])
        c = np.array(c)
        for _ in range(iters):
            a = np.argmin(((x[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
            nc = np.array([x[a == j].mean(0) if (a == j).any() else c[j] for j in range(k)])
            if np.allclose(nc, c):
                break
            c = nc
        inertia = ((x - c[a]) ** 2).sum()
        if best is None or inertia < best[0]:
            best = (inertia, a)
    return best[1]
