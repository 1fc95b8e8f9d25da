"""The imbalanced-learn sampler: counts, forms, determinism, pipelines, errors, estimator checks."""
import functools
from pathlib import Path

import numpy as np
import pytest
from imblearn.pipeline import Pipeline
from sklearn.linear_model import LogisticRegression

from skelgen.errors import SkelgenError
from skelgen.sampler import SkelgenSampler, load_prepared


@pytest.fixture(scope="module")
def data(trained, demo_file):
    """Prepared training sequences (n, 16, 25, 3) of three classes, 12 / 6 / 3 samples."""
    x, y = load_prepared(demo_file, trained, "train")
    keep = np.concatenate([np.flatnonzero(y == c)[:n] for c, n in ((0, 12), (3, 6), (5, 3))])
    return x[keep], y[keep]


def counts(y):
    return dict(zip(*[a.tolist() for a in np.unique(y, return_counts=True)]))


def test_auto_fills_every_class_to_the_majority(trained, data):
    x, y = data
    assert x.shape == (21, 16, 25, 3)
    xr, yr = SkelgenSampler(checkpoint=trained, random_state=0).fit_resample(x, y)
    assert xr.shape == (36, 16, 25, 3) and xr.dtype == x.dtype and counts(yr) == {0: 12, 3: 12, 5: 12}
    np.testing.assert_array_equal(xr[:21], x)  # the given samples first, unchanged
    np.testing.assert_array_equal(yr[:21], y)
    assert yr[21:].tolist() == [3] * 6 + [5] * 9
    assert np.isfinite(xr).all() and not np.allclose(xr[21:], 0)


def test_dict_and_float_strategies_and_any_labels(trained, data):
    x, y = data
    codes = np.array(["A008", "A009", "A010", "A023", "A024", "A027", "A043", "A059"])[y]  # string labels
    xr, yr = SkelgenSampler(checkpoint=trained, sampling_strategy={"A023": 10, "A027": 4},
                            random_state=0).fit_resample(x, codes)
    assert counts(yr) == {"A008": 12, "A023": 10, "A027": 4} and len(xr) == 26
    binary = y != 5
    xr, yr = SkelgenSampler(checkpoint=trained, sampling_strategy=0.75, random_state=0).fit_resample(
        x[binary], y[binary])
    assert counts(yr) == {0: 12, 3: 9} and len(xr) == 21


def test_flattened_and_five_d_forms_come_back_as_given(trained, data):
    x, y = data
    s = SkelgenSampler(checkpoint=trained, random_state=1)
    x4, y4 = s.fit_resample(x, y)
    x2, y2 = s.fit_resample(x.reshape(len(x), -1), y)
    x5, _ = s.fit_resample(x[:, None], y)
    assert x2.shape == (36, 16 * 25 * 3) and x5.shape == (36, 1, 16, 25, 3)
    np.testing.assert_array_equal(x2.reshape(x4.shape), x4)  # same samples whatever the form
    np.testing.assert_array_equal(x5[:, 0], x4)
    np.testing.assert_array_equal(y2, y4)
    assert s.n_features_in_ == 1200 and s.checkpoint_ == str(trained) and s.classes_.tolist() == [0, 3, 5]


@pytest.mark.parametrize("strategy", ["interpolate", "gaussian"])
def test_random_state_makes_it_reproducible(trained, data, strategy):
    x, y = data
    run = lambda rs: SkelgenSampler(checkpoint=trained, strategy=strategy, random_state=rs).fit_resample(x, y)[0]
    a, b, c = run(7), run(7), run(8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[21:], c[21:])


def test_bf16_decoding_is_reachable_from_the_sampler(trained, data):
    x, y = data
    run = lambda p: SkelgenSampler(checkpoint=trained, precision=p, random_state=3).fit_resample(x, y)[0]
    fp32, bf16 = run("fp32"), run("bf16")
    assert fp32.shape == bf16.shape and not np.array_equal(fp32, bf16)
    np.testing.assert_array_equal(fp32[: len(x)], bf16[: len(x)])  # the given samples untouched


def test_augment_gives_the_generated_sequences_classic_augmentation(trained, data):
    x, y = data
    run = lambda augment: SkelgenSampler(checkpoint=trained, strategy="interpolate", augment=augment,
                                         random_state=7).fit_resample(x, y)[0]
    plain, augmented = run(False), run(True)
    np.testing.assert_array_equal(augmented, run(True))
    np.testing.assert_array_equal(augmented[:len(x)], x)  # the given samples come back untouched
    assert not np.allclose(augmented[len(x):], plain[len(x):], atol=1e-3)


def test_works_in_an_imblearn_pipeline(trained, demo_file, data):
    x, y = data
    pipe = Pipeline([("skelgen", SkelgenSampler(checkpoint=trained, random_state=0)),
                     ("clf", LogisticRegression(max_iter=500))])
    pipe.fit(x.reshape(len(x), -1), y)
    assert pipe.named_steps["skelgen"].sampling_strategy_ == {3: 6, 5: 9}
    xt, yt = load_prepared(demo_file, trained, "test", flatten=True)
    seen = np.isin(yt, [0, 3, 5])
    pred = pipe.predict(xt[seen])  # samplers pass test data through untouched
    assert pred.shape == (seen.sum(),) and set(pred) <= {0, 3, 5}
    assert (pred == yt[seen]).mean() > 0.5  # chance is 1/3


def test_clear_errors(trained, data):
    x, y = data
    s = SkelgenSampler(checkpoint=trained)
    with pytest.raises(SkelgenError, match=r"16 frames, 25 joints, 3 coordinates.*\(n, 16, 25, 3\)"):
        s.fit_resample(np.zeros((len(x), 20, 25, 3)), y)
    with pytest.raises(SkelgenError, match=r"flattened \(n, 1200\)"):
        s.fit_resample(x.reshape(len(x), -1)[:, :-3], y)
    with pytest.raises(SkelgenError, match="shape"):
        s.fit_resample(x.reshape(len(x), 16, 75), y)
    with pytest.raises(SkelgenError, match=r"sampling_strategy.*not present.*classes in y: 0, 3, 5"):
        SkelgenSampler(checkpoint=trained, sampling_strategy={7: 20}).fit_resample(x, y)
    with pytest.raises(SkelgenError, match="strategy"):
        SkelgenSampler(checkpoint=trained, strategy="magic").fit_resample(x, y)
    with pytest.raises(SkelgenError, match="precision"):
        SkelgenSampler(checkpoint=trained, precision="fp16").fit_resample(x, y)
    with pytest.raises(SkelgenError, match="skelgen pretrain"):  # no checkpoint and no pretrain run here
        SkelgenSampler().fit_resample(x, y)


# -- imbalanced-learn's and scikit-learn's estimator checks (issue 15) -------------------------------
from imblearn.utils.estimator_checks import estimator_checks_generator  # noqa: E402
from sklearn.utils import estimator_checks as sklearn_checks  # noqa: E402

RANDOM_FEATURES = ("it draws random tabular data of 2 to 20 features, and SkelgenSampler resamples only "
                   "sequences shaped for its pretrained checkpoint (M*T*V*C values per row)")
CANNOT_APPLY = {  # check -> why it cannot apply to a pretrained sequence model
    name: RANDOM_FEATURES for name in (
        "check_samplers_fit", "check_samplers_fit_resample", "check_samplers_sampling_strategy_fit_resample",
        "check_samplers_list", "check_samplers_multiclass_ova", "check_samplers_preserve_dtype",
        "check_samplers_sample_indices", "check_samplers_2d_target", "check_sampler_get_feature_names_out",
        "check_samplers_sparse", "check_samplers_nan", "check_samplers_string",
        "check_classifiers_with_encoded_labels")}
API_CHECKS = ("check_param_validation", "check_get_params_invariance", "check_set_params",
              "check_no_attributes_set_in_init", "check_parameters_default_constructible", "check_estimator_repr",
              "check_estimator_cloneable", "check_dont_overwrite_parameters",
              "check_do_not_raise_errors_in_init_or_set_params")


def _checks():
    """Every check imbalanced-learn runs for an over-sampler, and scikit-learn's API checks."""
    from imblearn.utils import estimator_checks as imblearn_checks
    for _, check in estimator_checks_generator(SkelgenSampler(random_state=0), mark=None):
        yield pytest.param(check, id=getattr(check, "func", check).__name__)
    for name in API_CHECKS:
        module = imblearn_checks if hasattr(imblearn_checks, name) else sklearn_checks
        yield pytest.param(functools.partial(getattr(module, name), "SkelgenSampler"), id=name)


@pytest.mark.parametrize("check", list(_checks()))
def test_estimator_checks(trained, demo_file, check):
    """Each check runs with the sampler's default checkpoint (the last pretrain run, written here);
    one that cannot apply is skipped with its reason, never passed over in silence."""
    import json
    name = getattr(check, "func", check).__name__
    if name in CANNOT_APPLY:
        pytest.skip(f"{name}: {CANNOT_APPLY[name]}")
    Path("runs").mkdir()
    Path("runs/latest.json").write_text(json.dumps({"checkpoint": str(trained), "data": str(demo_file)}))
    check(SkelgenSampler(random_state=0))


def test_errors_are_value_errors():
    """Code written for the standard types (scikit-learn's checks) catches skelgen's errors."""
    assert issubclass(SkelgenError, ValueError)
