"""nearest_matches and soft_correspondence_with_matches against loops written out in plain Python."""
import math

import pytest
import torch

from coordgan.ops import nearest_matches, soft_correspondence_with_matches


def _points(seed, batch=2, nq=11, nr=17, dims=2, channels=3):
    gen = torch.Generator().manual_seed(seed)
    query = torch.rand(batch, nq, dims, generator=gen, dtype=torch.float64)
    ref = torch.rand(batch, nr, dims, generator=gen, dtype=torch.float64)
    values = torch.rand(batch, nr, channels, generator=gen,
                        dtype=torch.float64)
    return query, ref, values


def _brute_force(query, ref, values, tau, squared):
    """Per query point: every ref distance, its softmax by hand, the weighted values, the nearest ref and its weight."""
    batch, nq, _ = query.shape
    out = torch.zeros(batch, nq, values.shape[2], dtype=torch.float64)
    index = torch.zeros(batch, nq, dtype=torch.long)
    prob = torch.zeros(batch, nq, dtype=torch.float64)
    for b in range(batch):
        for i in range(nq):
            dists = []
            for k in range(ref.shape[1]):
                sq = sum((float(query[b, i, d]) - float(ref[b, k, d]))**2
                         for d in range(query.shape[2]))
                dists.append(sq if squared else math.sqrt(sq))
            nearest = min(range(len(dists)), key=lambda k: (dists[k], k))
            weights = [math.exp(-(x - dists[nearest]) / tau) for x in dists]
            total = sum(weights)
            for k, weight in enumerate(weights):
                out[b, i] += weight / total * values[b, k]
            index[b, i] = nearest
            prob[b, i] = weights[nearest] / total
    return out, index, prob


@pytest.mark.parametrize('squared', [False, True])
@pytest.mark.parametrize('tau', [0.01, 0.3])
@pytest.mark.parametrize('chunk_size', [None, 4])
def test_fused_pass_equals_brute_force(squared, tau, chunk_size):
    query, ref, values = _points(0)
    want_out, want_index, want_prob = _brute_force(query, ref, values, tau,
                                                   squared)
    out, index, prob = soft_correspondence_with_matches(
        query, ref, values, tau, squared, chunk_size)
    torch.testing.assert_close(out, want_out)
    assert torch.equal(index, want_index)
    torch.testing.assert_close(prob, want_prob)
    index, prob = nearest_matches(query, ref, tau, squared, chunk_size)
    assert torch.equal(index, want_index)
    torch.testing.assert_close(prob, want_prob)


def test_a_point_alone_near_its_match_is_confident_and_ties_take_the_first():
    ref = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [1.0, 0.0]]])
    query = torch.tensor([[[0.001, 0.0], [0.9, 0.0]]])
    index, prob = nearest_matches(query, ref, tau=0.01)
    # The first query is 1 away from the others: probability ~1.
    assert index[0, 0] == 0 and prob[0, 0] > 0.999
    # The second sits between two identical refs: the first of them, at
    # about half the weight.
    assert index[0, 1] == 1
    torch.testing.assert_close(prob[0, 1], torch.tensor(0.5), atol=1e-3,
                               rtol=0)
    values = torch.eye(3)[None]
    out, fused_index, fused_prob = soft_correspondence_with_matches(
        query, ref, values, tau=0.01)
    assert torch.equal(fused_index, index)
    torch.testing.assert_close(fused_prob, prob)
    torch.testing.assert_close(out[0, 1], torch.tensor([0.0, 0.5, 0.5]),
                               atol=1e-3, rtol=0)


@pytest.mark.parametrize('kwargs, match', [
    (dict(tau=0.0), 'tau must be > 0'),
    (dict(values=torch.zeros(1, 4, 3)), r'values must have shape \(B=1, '
     r'Nr=5'),
    (dict(ref=torch.zeros(1, 5, 3)), r'ref must have shape \(B=1, Nr, D=2\)'),
    (dict(chunk_size=0), 'chunk_size must be None or a positive int'),
])
def test_bad_arguments_are_named(kwargs, match):
    args = dict(query=torch.zeros(1, 2, 2), ref=torch.zeros(1, 5, 2),
                values=torch.zeros(1, 5, 3))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        soft_correspondence_with_matches(**args)
