"""Domain adaptation helpers beyond what lesson 07 writes itself: measure a shift, scale AdaBN.

Measuring: :func:`domain_classifier_accuracy` / :func:`proxy_a_distance` (how well a
classifier tells the domains apart), :func:`mean_distance`, :func:`coral_distance`
and :func:`mmd_rbf` (how far apart feature statistics are). Reducing:
:func:`adabn_in_one_pass` (AdaBN for a large backbone in one batched pass),
:func:`lambda_schedule` (DANN's ramp), :func:`pseudo_label` (confident self-training) and
:func:`centroid_pseudo_labels` (labels from the target's own clusters).

What the lesson teaches (``coral_loss``, ``reverse_gradient``, ``GradientReversal``,
layer-by-layer ``adabn``) is written in the lesson and imported from
``course_utils.taught.domain_mismatch``: one copy each.
"""

from __future__ import annotations

import keras
import numpy as np

# ---------------------------------------------------------------- measuring a shift


def domain_classifier_accuracy(source_feats, target_feats, seed: int = 0,
                               max_per_domain: int = 2000) -> float:
    """Held-out accuracy of a logistic regression telling source from target features.

    Balanced: both domains are cut to the same size (at most ``max_per_domain``),
    then split half for training, half for testing. 0.5 means the domains are
    indistinguishable to a linear classifier; 1.0 means perfectly separable.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    s = np.asarray(source_feats, dtype="float64").reshape(len(source_feats), -1)
    t = np.asarray(target_feats, dtype="float64").reshape(len(target_feats), -1)
    n = min(len(s), len(t), max_per_domain)
    if n < 4:
        raise ValueError(f"need at least 4 samples per domain, got {len(s)} and {len(t)}")
    rng = np.random.default_rng(seed)
    s, t = s[rng.permutation(len(s))[:n]], t[rng.permutation(len(t))[:n]]
    x = np.concatenate([s, t])
    d = np.concatenate([np.zeros(n, int), np.ones(n, int)])
    x_tr, x_te, d_tr, d_te = train_test_split(x, d, test_size=0.5, stratify=d, random_state=seed)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    clf.fit(x_tr, d_tr)
    return float(clf.score(x_te, d_te))


def proxy_a_distance(source_feats, target_feats, seed: int = 0, max_per_domain: int = 2000) -> float:
    """Proxy A-distance ``2 (1 - 2 err)`` of a domain classifier (Ben-David et al. 2007).

    ``err`` is the held-out error of :func:`domain_classifier_accuracy`. 0 means
    the domains cannot be told apart, 2 means perfectly separable. An error above
    0.5 is chance, so the value is clipped to [0, 2].
    """
    err = 1.0 - domain_classifier_accuracy(source_feats, target_feats, seed, max_per_domain)
    return float(np.clip(2.0 * (1.0 - 2.0 * err), 0.0, 2.0))


def mean_distance(source_feats, target_feats) -> float:
    """Euclidean distance between the mean feature vectors of the two domains."""
    s = np.asarray(source_feats, dtype="float64")
    t = np.asarray(target_feats, dtype="float64")
    return float(np.linalg.norm(s.mean(axis=0) - t.mean(axis=0)))


def coral_distance(source_feats, target_feats) -> float:
    """CORAL distance ``||C_s - C_t||_F^2 / (4 d^2)`` between feature covariances (NumPy)."""
    s = np.asarray(source_feats, dtype="float64")
    t = np.asarray(target_feats, dtype="float64")
    d = s.shape[1]
    diff = np.cov(s, rowvar=False) - np.cov(t, rowvar=False)
    return float(np.sum(diff**2) / (4.0 * d * d))


def mmd_rbf(source_feats, target_feats, gamma: float | None = None, max_per_domain: int = 1000,
            seed: int = 0) -> float:
    """Squared maximum mean discrepancy with an RBF kernel (biased estimate, >= 0).

    ``gamma`` defaults to the median heuristic: 1 / median squared distance of
    the pooled samples. Each domain is subsampled to ``max_per_domain`` rows.
    """
    rng = np.random.default_rng(seed)
    s = np.asarray(source_feats, dtype="float64")
    t = np.asarray(target_feats, dtype="float64")
    s = s[rng.permutation(len(s))[:max_per_domain]]
    t = t[rng.permutation(len(t))[:max_per_domain]]

    def sq_dists(a, b):
        return np.maximum((a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T, 0.0)

    if gamma is None:
        pooled = np.concatenate([s, t])
        med = np.median(sq_dists(pooled, pooled))
        gamma = 1.0 / med if med > 0 else 1.0
    kss = np.exp(-gamma * sq_dists(s, s)).mean()
    ktt = np.exp(-gamma * sq_dists(t, t)).mean()
    kst = np.exp(-gamma * sq_dists(s, t)).mean()
    return float(max(kss + ktt - 2 * kst, 0.0))


# ---------------------------------------------------------------- reducing a shift


def lambda_schedule(p: float, gamma: float = 10.0) -> float:
    """DANN's ramp ``2 / (1 + exp(-gamma p)) - 1`` for training progress ``p`` in [0, 1].

    Starts at 0 (the domain loss does not disturb early, noisy features) and
    rises smoothly to almost 1 (Ganin et al. 2016, section 5.2.2).
    """
    p = float(np.clip(p, 0.0, 1.0))
    return float(2.0 / (1.0 + np.exp(-gamma * p)) - 1.0)


def pseudo_label(probs, threshold: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(mask, labels)``: which rows are confident (max prob >= threshold) and their argmax.

    Self-training keeps only the ``mask`` rows with their predicted ``labels``:
    the threshold trades how many target examples are used against how many of
    them are wrong.
    """
    probs = np.asarray(probs)
    if probs.ndim != 2:
        raise ValueError(f"expected probabilities of shape (N, classes), got {probs.shape}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    return probs.max(axis=1) >= threshold, probs.argmax(axis=1)


def batchnorm_layers(model) -> list:
    """Return the model's BatchNormalization layers in order, looking inside nested models."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        elif hasattr(layer, "layers"):
            found.extend(batchnorm_layers(layer))
    return found


def adabn_in_one_pass(model, target_x, max_images: int = 256, batch_size: int = 32, seed: int = 0):
    """Return a copy of ``model`` whose BatchNormalization statistics are those of ``target_x``.

    AdaBN for a large pretrained backbone, where the lesson's layer-by-layer ``adabn``'s
    probing would cost one forward pass per BN layer: a single pass of training-mode
    forward calls over (at most ``max_images`` of) ``target_x``, in batches. In
    training mode each BN layer normalises with the statistics of the batch in front
    of it and updates its moving statistics as ``momentum * old + (1 - momentum) *
    batch``; setting ``momentum = k / (k + 1)`` before batch ``k`` makes them the
    running *average* over the batches seen (batch 0 overwrites ImageNet's). Batches
    keep memory bounded: a 224-px MobileNetV2 needs about 90 MB per image in a
    training-mode call. Every learned weight is copied unchanged; ``model`` itself is
    not touched.
    """
    target_x = np.asarray(target_x)
    if len(target_x) < 2:
        raise ValueError("AdaBN needs at least 2 target images to estimate a variance")
    adapted = keras.models.clone_model(model)
    adapted.set_weights(model.get_weights())
    layers = batchnorm_layers(adapted)
    saved = [(bn.momentum, bn.trainable) for bn in layers]
    for bn in layers:  # a frozen BN layer always runs in inference mode: unfreeze it for these calls
        bn.trainable = True
    pick = np.sort(np.random.default_rng(seed).choice(len(target_x), min(max_images, len(target_x)),
                                                      replace=False))
    starts = range(0, len(pick), batch_size)
    if len(starts) > 1 and len(pick) - starts[-1] < 2:  # never a 1-image batch (no variance)
        starts = starts[:-1]
    for k, start in enumerate(starts):
        end = len(pick) if start == starts[-1] else start + batch_size
        for bn in layers:
            bn.momentum = k / (k + 1)
        adapted(target_x[pick[start:end]], training=True)
    for bn, (momentum, trainable) in zip(layers, saved, strict=True):
        bn.momentum, bn.trainable = momentum, trainable
    return adapted


def centroid_pseudo_labels(feats, probs, iterations: int = 5) -> np.ndarray:
    """Transductive pseudo-labels: assign each target example to the nearest class centroid.

    Start from the classifier's soft predictions ``probs``, compute one centroid per
    class in feature space (weighted by those probabilities), label every example by
    its nearest centroid (cosine similarity), recompute the centroids from those
    labels, and repeat. The labels follow the *target's own clusters* rather than
    the source classifier's boundary, which a domain shift has moved (the idea
    behind SHOT, Liang et al. 2020).
    """
    feats, probs = np.asarray(feats, dtype="float64"), np.asarray(probs, dtype="float64")
    if feats.ndim != 2 or probs.ndim != 2 or len(feats) != len(probs):
        raise ValueError(f"expected feats (N, d) and probs (N, classes), got {feats.shape} and {probs.shape}")
    f = feats / (np.linalg.norm(feats, axis=1, keepdims=True) + 1e-12)
    weights = probs
    labels = probs.argmax(axis=1)
    for _ in range(iterations):
        centroids = weights.T @ f / (weights.sum(axis=0)[:, None] + 1e-12)
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12
        labels = (f @ centroids.T).argmax(axis=1)
        weights = np.eye(probs.shape[1])[labels]
    return labels


# ---------------------------------------------------------------- plumbing for lessons 07-08


def shift_measures(source_feats, target_feats, seed: int = 0) -> dict[str, float]:
    """Every shift measure of this module for one pair of feature sets, by name (for a plot)."""
    return {"domain accuracy": domain_classifier_accuracy(source_feats, target_feats, seed),
            "proxy A-distance": proxy_a_distance(source_feats, target_feats, seed),
            "mean distance": mean_distance(source_feats, target_feats),
            "CORAL distance": coral_distance(source_feats, target_feats),
            "MMD": mmd_rbf(source_feats, target_feats, seed=seed)}


def domain_features(base, dataset: str, splits: dict, image_size: int, seed: int = 0,
                    adabn_images: int | None = None, preprocess: str = "mobilenet_v2", verbose: bool = True):
    """Frozen-backbone features of every (domain, split) of a multi-domain image set, e.g. PACS.

    ``splits`` maps a domain to ``{split: images per class (None: all)}``. Returns ``(feats,
    adapted, examples, class_names)``: ``feats[domain, split] = (features, labels)``; with
    ``adabn_images``, every domain that has a ``train`` split also gets
    ``feats["adabn", domain, split]``, the same images through its own AdaBN copy of ``base``
    (:func:`adabn_in_one_pass` on at most ``adabn_images`` of its *unlabelled* training images),
    kept in ``adapted[domain]``; ``examples[domain]`` holds one image per class (for a picture).
    Lessons 07 and 08 teach what this does; here it is the loop around it.
    """
    import time

    from course_utils import backbones, datasets, features

    feats, adapted, examples, class_names, start = {}, {}, {}, [], time.perf_counter()
    for domain, wanted in splits.items():
        xs = {}
        for split, per_class in wanted.items():
            imgs = datasets.load_images(dataset, split, image_size, per_class=per_class, seed=seed,
                                        domain=domain, verbose=False)
            xs[split], class_names = backbones.preprocess(preprocess, imgs.x), imgs.class_names
            feats[domain, split] = (features.extract_features(base, xs[split], verbose=False), imgs.y)
            examples[domain] = [imgs.x[np.flatnonzero(imgs.y == c)[0]] for c in range(len(class_names))]
        if adabn_images and "train" in xs:
            adapted[domain] = adabn_in_one_pass(base, xs["train"], max_images=adabn_images, seed=seed)
            for split, x in xs.items():
                feats["adabn", domain, split] = (features.extract_features(adapted[domain], x, verbose=False),
                                                 feats[domain, split][1])
        if verbose:
            print(f"{domain}: " + ", ".join(f"{s} {len(feats[domain, s][1])}" for s in wanted)
                  + f" images ({time.perf_counter() - start:.0f} s)")
    return feats, adapted, examples, class_names
