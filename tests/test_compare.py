import numpy as np
import pytest

from huenet.eval.compare import best, halfway, order, order_words


def test_order_says_level_when_the_pairs_cannot_tell_the_difference():
    rng = np.random.default_rng(0)
    a = rng.normal(0.5, 0.1, 300)
    assert order(a, a + 0.05) == "lower" and order(a + 0.05, a) == "higher"
    noise = rng.normal(0, 0.1, 300)
    assert order(a, a + noise) == "level"  # a zero-mean paired difference


def test_order_is_paired_not_a_comparison_of_two_samples():
    # each pair differs by the same small amount while the pairs spread widely: a paired test sees it
    a = np.linspace(0, 1, 50)
    assert order(a, a + 1e-3) == "lower"


def test_order_refuses_unpaired_scores():
    with pytest.raises(ValueError, match="same shape"):
        order([1.0, 2.0], [1.0])


def test_words_follow_the_order():
    assert order_words("higher", "closer to", "further from", "as close to") == "further from"
    assert order_words("level", "closer to", "further from", "as close to") == "as close to"


def test_best_and_halfway():
    assert best({"a": 0.2, "b": 0.1, "c": 0.3}) == "b"
    assert best({"a": 0.2, "b": 0.1}, lower_is_better=False) == "a"
    assert halfway(0.3, 0.15) and not halfway(0.303, 0.226)
    with pytest.raises(ValueError):
        halfway(0.0, 0.0)
