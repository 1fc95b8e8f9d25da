"""Novelty metrics on tiny exact fixtures: copies are copies, far sequences are new."""
import numpy as np
import pytest

from skelgen.errors import SkelgenError
from skelgen.novelty import class_diversity, nearest, novelty, pairwise


def sequences(n, seed=0, t=4, v=3):
    """n random sequences (n, T, M=1, V, C=3)."""
    return np.random.default_rng(seed).normal(size=(n, t, 1, v, 3))


def test_distance_is_rms_over_points():
    a = np.zeros((1, 4, 1, 3, 3))
    b = a + 1.0  # every point moved by (1, 1, 1): distance sqrt(3) at each of the 12 points
    assert pairwise(a, b)[0, 0] == pytest.approx(np.sqrt(3))
    assert pairwise(a[:, :, 0, 0], b[:, :, 0, 0]).shape == (1, 1)  # features (n, H) work too


def test_nearest_stays_within_the_class():
    train = sequences(6)
    y = np.array([0, 0, 0, 1, 1, 1])
    gen = train[[4]] + 1e-3  # a near-copy of sample 4 (class 1) ...
    d, idx = nearest(gen, np.array([0]), train, y)  # ... conditioned as class 0
    assert idx[0] in (0, 1, 2) and d[0] > 0.1
    d, idx = nearest(gen, np.array([1]), train, y)
    assert idx[0] == 4 and d[0] == pytest.approx(1e-3 * np.sqrt(3))
    with pytest.raises(SkelgenError, match="no real training sequence"):
        nearest(gen, np.array([2]), train, y)


def test_a_copy_has_copy_rate_one_and_a_far_sequence_zero():
    train, test = sequences(10, 0), sequences(10, 1)
    y = np.repeat([0, 1], 5)
    copies, _, _ = novelty(train.copy(), y, train, y, test, y)
    assert copies.copy_rate == 1.0 and copies.generated_median < 1e-6 < copies.threshold
    far, _, _ = novelty(train + 100.0, y, train, y, test, y)
    assert far.copy_rate == 0.0 and far.generated_median > 99


def test_diversity_of_identical_sequences_is_zero_and_ratio_compares_with_real():
    train = sequences(6)
    y = np.array([0, 0, 0, 1, 1, 1])
    div = class_diversity(train, y)
    assert set(div) == {0, 1} and all(v > 0 for v in div.values())
    same = np.repeat(train[[0]], 4, 0)
    assert class_diversity(same, np.zeros(4, int)) == {0: 0.0}
    report, _, _ = novelty(train.copy(), y, train, y, sequences(6, 1), y)
    assert report.diversity_ratio == pytest.approx(1.0)


def test_held_out_repeats_of_training_sequences_do_not_set_the_copy_threshold():
    rng = np.random.default_rng(0)
    train, y = rng.normal(size=(20, 4, 1, 3, 3)), np.zeros(20, int)
    repeats, takes = train[:5].copy(), train[5:10] + rng.normal(0, 0.5, (5, 4, 1, 3, 3))  # NW-UCLA has such repeats
    near_copies = train[10:13] + 0.01  # nearer than any new take, though not identical
    nov, _, _ = novelty(near_copies, np.zeros(3, int), train, y, np.concatenate([repeats, takes]), np.zeros(10, int))
    assert nov.threshold > 0.1 and nov.copy_rate == 1.0
