"""cnnlib.retrieval against independent references: scikit-learn's average precision and nearest neighbours,
torch's TripletMarginLoss, and rankings small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnlib import retrieval

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def test_average_precision_by_hand():
    # Relevant at ranks 1, 3 and 4 of 6: AP = (1/1 + 2/3 + 3/4) / 3.
    relevance = np.array([[1, 0, 1, 1, 0, 0]], dtype=bool)
    assert retrieval.average_precision(relevance)[0] == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    assert retrieval.precision_at_k(relevance, 4)[0] == pytest.approx(3 / 4)
    # Cut-off ranking: two more relevant items never retrieved count as precision 0.
    assert retrieval.average_precision(relevance, num_relevant=[5])[0] == pytest.approx((1 + 2 / 3 + 3 / 4) / 5)
    assert retrieval.average_precision(np.zeros((1, 4), dtype=bool))[0] == 0.0


@pytest.mark.parametrize("trial", range(20))
def test_average_precision_matches_scikit_learn(trial):
    rng = np.random.default_rng(trial)
    size = int(rng.integers(2, 60))
    labels = rng.integers(0, int(rng.integers(1, 5)), size)
    embeddings = rng.normal(size=(size, int(rng.integers(2, 8))))  # D >= 2: cosine distances without ties
    metric = ("euclidean", "cosine")[trial % 2]
    _, indices = retrieval.search(embeddings, embeddings, metric=metric, exclude_self=True)
    relevance = retrieval.relevance_matrix(labels, labels, indices)
    ours = retrieval.average_precision(relevance)
    full = retrieval.pairwise_distances(embeddings, embeddings, metric)
    for query in range(size):
        others = np.arange(size) != query
        truth = labels[others] == labels[query]
        if truth.any():
            reference = sklearn_metrics.average_precision_score(truth, -full[query, others])
            assert ours[query] == pytest.approx(reference, abs=1e-12)
    assert retrieval.mean_average_precision(relevance) == pytest.approx(ours.mean())


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_search_matches_scikit_learn_neighbours(metric):
    neighbors = pytest.importorskip("sklearn.neighbors")
    rng = np.random.default_rng(1)
    database, queries = rng.normal(size=(200, 6)), rng.normal(size=(15, 6))
    distances, indices = retrieval.search(queries, database, k=7, metric=metric)
    reference = neighbors.NearestNeighbors(n_neighbors=7, metric=metric, algorithm="brute").fit(database)
    ref_distances, ref_indices = reference.kneighbors(queries)
    np.testing.assert_array_equal(indices, ref_indices)
    np.testing.assert_allclose(distances, ref_distances, atol=1e-10)
    assert np.all(np.diff(distances, axis=1) >= 0)


def test_search_excludes_self_and_ranks_everything():
    points = np.array([[0.0], [1.0], [3.0], [7.0]])
    distances, indices = retrieval.search(points, points, exclude_self=True)
    np.testing.assert_array_equal(indices, [[1, 2, 3], [0, 2, 3], [1, 0, 3], [2, 1, 0]])
    np.testing.assert_allclose(distances[:, 0], [1, 1, 2, 4])


def test_recall_at_k():
    exact = np.array([[0, 1, 2], [3, 4, 5]])
    approximate = np.array([[2, 0, 9], [-1, -1, -1]])
    assert retrieval.recall_at_k(approximate, exact) == pytest.approx((2 / 3 + 0) / 2)
    assert retrieval.recall_at_k(exact, exact, k=2) == 1.0


@pytest.mark.parametrize("margin", [0.2, 1.0, 5.0])
def test_triplet_loss_matches_torch(margin):
    generator = torch.Generator().manual_seed(0)
    anchor, positive, negative = (torch.randn(32, 5, generator=generator, dtype=torch.float64, requires_grad=True)
                                  for _ in range(3))
    ours = retrieval.triplet_margin_loss(anchor, positive, negative, margin=margin)
    reference = torch.nn.TripletMarginLoss(margin=margin, eps=0.0)(anchor, positive, negative)
    assert ours.item() == pytest.approx(reference.item(), abs=1e-12)
    grads = torch.autograd.grad(ours, (anchor, positive, negative))
    ref_grads = torch.autograd.grad(reference, (anchor, positive, negative))
    for grad, ref_grad in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(grad, ref_grad)


def test_hardest_triplets():
    embeddings = torch.tensor([[0.0], [1.0], [5.0], [2.0], [9.0]])
    labels = torch.tensor([0, 0, 0, 1, 2])
    anchor, positive, negative = retrieval.hardest_triplets(embeddings, labels)
    # Items 3 and 4 have no positive in the batch; item 0's farthest positive is 2, its nearest negative 3.
    assert anchor.tolist() == [0, 1, 2]
    assert positive.tolist() == [2, 2, 0]
    assert negative.tolist() == [3, 3, 3]


def test_bad_input_names_shapes():
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        retrieval.pairwise_distances(np.zeros(3), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="same D"):
        retrieval.pairwise_distances(np.zeros((3, 2)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="metric"):
        retrieval.search(np.zeros((3, 2)), np.zeros((3, 2)), metric="manhattan")
    with pytest.raises(ValueError, match="k an int"):
        retrieval.search(np.zeros((3, 2)), np.zeros((3, 2)), k=3, exclude_self=True)
    with pytest.raises(ValueError, match=r"\(Q, R\)"):
        retrieval.average_precision(np.zeros(4))
    with pytest.raises(ValueError, match="one shape"):
        retrieval.triplet_margin_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 4))
