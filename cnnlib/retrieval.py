"""Content-based image retrieval: exact nearest-neighbour search, ranking metrics and the triplet loss.

A collection of images is represented by one vector per image, an *embedding* of shape (N, D); a query is one more
vector, and retrieval ranks the collection by its distance to the query. This module holds the exact search (every
distance computed), the measures of a ranking (precision at k, average precision, mean average precision), the
recall of an approximate search against the exact one, and the triplet loss that trains an embedding for retrieval.

Search and metrics are NumPy; the triplet loss is PyTorch, so that it can be trained through. Approximate search at
scale is left to a library made for it (faiss, used in the retrieval chapter), which cnnlib does not import.
"""

from __future__ import annotations

import numpy as np
import torch

METRICS = ("euclidean", "cosine")
"""The distances :func:`pairwise_distances` and :func:`search` know."""


def _as_matrix(name: str, values) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(f"expected {name} of shape (N, D), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    return array


def _check_ranking(relevance) -> np.ndarray:
    relevance = np.asarray(relevance)
    if relevance.ndim != 2:
        raise ValueError(f"expected relevance of shape (Q, R), one ranked row per query, got shape {relevance.shape}")
    return relevance.astype(bool)


def l2_normalize(embeddings, eps: float = 1e-12) -> np.ndarray:
    """Scale every row to unit Euclidean length: ``x / max(||x||, eps)``.

    Args:
        embeddings: array of shape (N, D).
        eps: floor of the norm, so that a zero row stays zero instead of dividing by zero.

    Returns:
        Array of shape (N, D), each nonzero row of length 1.

    Raises:
        ValueError: if ``embeddings`` is not 2-D.
    """
    embeddings = _as_matrix("embeddings", embeddings)
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return embeddings / np.maximum(norms, eps)


def pairwise_distances(queries, database, metric: str = "euclidean") -> np.ndarray:
    """Distance between every query and every database vector.

    Euclidean: ``d(q, x) = ||q - x||_2``, computed as ``sqrt(max(||q||^2 + ||x||^2 - 2 q.x, 0))`` with one matrix
    product. Cosine: ``d(q, x) = 1 - q.x / (||q|| ||x||)``, between 0 (same direction) and 2 (opposite).

    Args:
        queries: array of shape (Q, D).
        database: array of shape (N, D).
        metric: ``"euclidean"`` or ``"cosine"``.

    Returns:
        Array of shape (Q, N).

    Raises:
        ValueError: for arrays that are not 2-D, different D, or an unknown metric.
    """
    queries = _as_matrix("queries", queries)
    database = _as_matrix("database", database)
    if queries.shape[1] != database.shape[1]:
        raise ValueError(
            f"expected queries (Q, D) and database (N, D) with the same D, got {queries.shape} and {database.shape}"
        )
    if metric == "euclidean":
        squared = (queries**2).sum(1)[:, None] + (database**2).sum(1)[None, :] - 2 * queries @ database.T
        return np.sqrt(np.maximum(squared, 0))
    if metric == "cosine":
        return 1 - l2_normalize(queries) @ l2_normalize(database).T
    raise ValueError(f"expected metric in {METRICS}, got {metric!r}")


def search(queries, database, k: int | None = None, metric: str = "euclidean",
           exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Exact k-nearest-neighbour search: every distance computed, the k smallest returned in increasing order.

    Args:
        queries: array of shape (Q, D).
        database: array of shape (N, D).
        k: neighbours per query, 1 to N (None: rank the whole database; N - 1 with ``exclude_self``).
        metric: ``"euclidean"`` or ``"cosine"`` (see :func:`pairwise_distances`).
        exclude_self: the queries are the database itself (Q = N), and query i must not find item i (the
            leave-one-out protocol, where every item of a collection is a query against all the others).

    Returns:
        ``(distances, indices)``, both of shape (Q, k): the distances in increasing order and the database rows they
        belong to. Ties keep the lower index first (a stable sort).

    Raises:
        ValueError: for bad shapes or metric, ``exclude_self`` with Q != N, or k out of range.
    """
    distances = pairwise_distances(queries, database, metric)
    num_queries, size = distances.shape
    if exclude_self:
        if num_queries != size:
            raise ValueError(f"exclude_self needs queries of the database's shape, got {num_queries} and {size} rows")
        distances[np.arange(size), np.arange(size)] = np.inf
    largest = size - 1 if exclude_self else size
    if k is None:
        k = largest
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= largest:
        raise ValueError(f"expected k an int from 1 to {largest}, got {k!r}")
    if k < largest:  # partial selection first: O(N) per query, then sort only the k candidates
        candidates = np.argpartition(distances, k - 1, axis=1)[:, :k]
        candidates.sort(axis=1)  # so that the stable sort below breaks ties by index
    else:
        candidates = np.tile(np.arange(size), (num_queries, 1))
    order = np.argsort(np.take_along_axis(distances, candidates, axis=1), axis=1, kind="stable")
    indices = np.take_along_axis(candidates, order, axis=1)[:, :k]
    return np.take_along_axis(distances, indices, axis=1), indices


def relevance_matrix(query_labels, database_labels, indices) -> np.ndarray:
    """Which retrieved items are relevant: ``relevance[q, r] = database_labels[indices[q, r]] == query_labels[q]``.

    Args:
        query_labels: array of shape (Q,).
        database_labels: array of shape (N,).
        indices: integer array of shape (Q, R), the ranked database rows of each query (from :func:`search`).

    Returns:
        Boolean array of shape (Q, R).

    Raises:
        ValueError: for shapes that do not match.
    """
    query_labels = np.asarray(query_labels)
    database_labels = np.asarray(database_labels)
    indices = np.asarray(indices)
    if query_labels.ndim != 1 or database_labels.ndim != 1 or indices.ndim != 2 or len(indices) != len(query_labels):
        raise ValueError(
            f"expected query_labels (Q,), database_labels (N,) and indices (Q, R), got {query_labels.shape}, "
            f"{database_labels.shape} and {indices.shape}"
        )
    return database_labels[indices] == query_labels[:, None]


def precision_at_k(relevance, k: int) -> np.ndarray:
    """Precision at k of each query: the fraction of its first k results that are relevant.

    ``P@k = (1/k) sum_{r=1..k} rel_r``, with ``rel_r`` 1 when the result of rank r is relevant.

    Args:
        relevance: boolean array of shape (Q, R), one ranked row per query (from :func:`relevance_matrix`).
        k: the cut-off, 1 to R.

    Returns:
        Array of shape (Q,); its mean is the precision at k of the whole query set.

    Raises:
        ValueError: if ``relevance`` is not 2-D or k is out of range.
    """
    relevance = _check_ranking(relevance)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= relevance.shape[1]:
        raise ValueError(f"expected k an int from 1 to {relevance.shape[1]}, got {k!r}")
    return relevance[:, :k].mean(axis=1)


def average_precision(relevance, num_relevant=None) -> np.ndarray:
    """Average precision of each query: the mean of the precisions at the ranks of its relevant results.

    ``AP = (1/M) sum_{r=1..R} P@r * rel_r``, with M the number of relevant items in the collection. With the whole
    collection ranked (the default, M = the relevant items in the row) and no tied distances, this is the average
    precision that scikit-learn's ``average_precision_score`` computes from the scores of one query (which groups
    tied scores into one threshold instead of ranking them).

    Args:
        relevance: boolean array of shape (Q, R), one ranked row per query.
        num_relevant: array of shape (Q,), the relevant items of each query in the whole collection, for a
            ranking cut off at R (relevant items never retrieved then count as precision 0); None: the row sums.

    Returns:
        Array of shape (Q,); a query with no relevant item gets 0.

    Raises:
        ValueError: if ``relevance`` is not 2-D or ``num_relevant`` has the wrong shape or is below a row's count.
    """
    relevance = _check_ranking(relevance)
    hits = np.cumsum(relevance, axis=1)
    if num_relevant is None:
        num_relevant = hits[:, -1] if relevance.shape[1] else np.zeros(len(relevance))
    num_relevant = np.asarray(num_relevant, dtype=np.float64)
    if num_relevant.shape != (len(relevance),):
        raise ValueError(f"expected num_relevant of shape ({len(relevance)},), got {num_relevant.shape}")
    if relevance.shape[1] and np.any(num_relevant < hits[:, -1]):
        raise ValueError("num_relevant is smaller than the relevant items retrieved in some row")
    ranks = np.arange(1, relevance.shape[1] + 1)
    summed = (hits / ranks * relevance).sum(axis=1)
    return np.divide(summed, num_relevant, out=np.zeros(len(relevance)), where=num_relevant > 0)


def mean_average_precision(relevance, num_relevant=None) -> float:
    """Mean average precision (mAP): :func:`average_precision` averaged over the queries.

    Args:
        relevance: boolean array of shape (Q, R), one ranked row per query.
        num_relevant: as in :func:`average_precision`.

    Returns:
        A float in [0, 1].
    """
    return float(average_precision(relevance, num_relevant).mean())


def recall_at_k(approximate_indices, exact_indices, k: int | None = None) -> float:
    """How much of the exact k nearest neighbours an approximate search finds (faiss's "k-recall@k").

    ``recall = (1/Q) sum_q |A_q ∩ E_q| / k``, with ``A_q`` and ``E_q`` the first k indices of query q from the
    approximate and the exact search. Negative indices (faiss's mark for "fewer than k found") never match.

    Args:
        approximate_indices: integer array of shape (Q, K1).
        exact_indices: integer array of shape (Q, K2).
        k: the cut-off, at most min(K1, K2) (None: that minimum).

    Returns:
        A float in [0, 1]: 1 when the approximate search returns the exact neighbours, in any order.

    Raises:
        ValueError: for arrays that are not 2-D with the same Q, or k out of range.
    """
    approximate = np.asarray(approximate_indices)
    exact = np.asarray(exact_indices)
    if approximate.ndim != 2 or exact.ndim != 2 or len(approximate) != len(exact):
        raise ValueError(f"expected two index arrays (Q, K) with the same Q, got {approximate.shape} and {exact.shape}")
    largest = min(approximate.shape[1], exact.shape[1])
    k = largest if k is None else k
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= largest:
        raise ValueError(f"expected k an int from 1 to {largest}, got {k!r}")
    found = [np.intersect1d(a[a >= 0], e).size for a, e in zip(approximate[:, :k], exact[:, :k], strict=True)]
    return float(np.mean(found) / k)


def triplet_margin_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                        margin: float = 0.2) -> torch.Tensor:
    """The triplet loss of FaceNet: pull the positive closer to the anchor than the negative, by a margin.

    ``loss = mean_i max(||a_i - p_i||_2 - ||a_i - n_i||_2 + margin, 0)``, the form of ``torch.nn.TripletMarginLoss``
    (Schroff et al. 2015 write it with squared distances). A triplet already separated by the margin contributes
    nothing, and no gradient.

    Args:
        anchor, positive, negative: tensors of shape (B, D): the anchor, an item of its class, an item of another.
        margin: a non-negative float.

    Returns:
        A scalar tensor (differentiable).

    Raises:
        ValueError: for tensors that are not 2-D of one shape, or a negative margin.
    """
    if anchor.ndim != 2 or anchor.shape != positive.shape or anchor.shape != negative.shape:
        raise ValueError(
            f"expected anchor, positive and negative of one shape (B, D), got {tuple(anchor.shape)}, "
            f"{tuple(positive.shape)} and {tuple(negative.shape)}"
        )
    if not margin >= 0:
        raise ValueError(f"expected margin >= 0, got {margin!r}")
    positive_distance = (anchor - positive).norm(dim=1)
    negative_distance = (anchor - negative).norm(dim=1)
    return torch.clamp(positive_distance - negative_distance + margin, min=0).mean()


def hardest_triplets(embeddings: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch-hard mining: for every item of a batch, its farthest positive and its nearest negative in the batch.

    For anchor i, ``p(i) = argmax_{j != i, y_j = y_i} ||e_i - e_j||`` and ``n(i) = argmin_{y_j != y_i} ||e_i - e_j||``
    (Hermans et al. 2017). Anchors without a positive or without a negative in the batch are left out. The choice is
    made without gradient; the loss is then computed on the chosen rows.

    Args:
        embeddings: tensor of shape (B, D).
        labels: integer tensor of shape (B,).

    Returns:
        ``(anchor, positive, negative)``: index tensors of shape (T,), T <= B, for :func:`triplet_margin_loss`
        as ``triplet_margin_loss(embeddings[anchor], embeddings[positive], embeddings[negative])``.

    Raises:
        ValueError: for shapes that do not match.
    """
    if embeddings.ndim != 2 or labels.shape != (len(embeddings),):
        raise ValueError(
            f"expected embeddings (B, D) and labels (B,), got {tuple(embeddings.shape)} and {tuple(labels.shape)}"
        )
    with torch.no_grad():
        distances = torch.cdist(embeddings, embeddings)
        same = labels[:, None] == labels[None, :]
        eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        positives = same & ~eye
        positive = torch.where(positives, distances, torch.full_like(distances, -1.0)).argmax(dim=1)
        negative = torch.where(~same, distances, torch.full_like(distances, float("inf"))).argmin(dim=1)
        keep = positives.any(dim=1) & (~same).any(dim=1)
        anchor = torch.arange(len(labels), device=labels.device)[keep]
    return anchor, positive[keep], negative[keep]
