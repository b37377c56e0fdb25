"""POST /api/train refuses, up front with a 400 and a clear reason, every parameter value the job could not use."""

from __future__ import annotations

import pytest
from helpers import rate_like_a_designer

from swatch.catalog.db import Catalog
from swatch.training.service import TrainingError, TrainParams


@pytest.mark.parametrize(("body", "words"), [
    ({"min_ratings": 0}, "min_ratings must be between 1 and"),
    ({"min_ratings": -5}, "min_ratings must be between 1 and"),
    ({"min_ratings": 2.5}, "min_ratings must be of type int"),
    ({"min_ratings": "10"}, "min_ratings must be of type int"),
    ({"min_ratings": True}, "min_ratings must be of type int"),
    ({"epochs": 0}, "epochs must be between 1 and"),
    ({"holdout": 0.95}, "holdout must be between"),
    ({"threads": 0}, "threads must be between 1 and"),
    ({"base_version": "v0"}, "invalid base version"),
    ({"base_version": "v9"}, "feature version pattern/v9 is missing"),
    ({"designs": "no"}, "designs must be of type bool"),
])
def test_unusable_parameters_are_400_and_start_nothing(client, settings, admin_headers, body, words):
    rate_like_a_designer(settings, queries=12)
    resp = client.post("/api/train", json=dict({"epochs": 2, "augment": 0, "min_ratings": 10}, **body),
                       headers=admin_headers)
    assert resp.status_code == 400, resp.get_json()
    error = resp.get_json()["error"]
    assert words in error and "\n" not in error and str(settings.data_dir) not in error
    assert client.get("/api/jobs?kind=train").get_json()["jobs"] == []
    assert not (settings.models_dir / "pattern").exists()


@pytest.mark.parametrize(("data", "words"), [
    ({"min_ratings": 10**30}, "min_ratings must be between 1 and"),
    ({"lr": 10**400}, "lr must be of type float"),
    ({"margin": float("nan")}, "margin must be of type float"),
])
def test_out_of_range_numbers_are_training_errors(data, words):
    with pytest.raises(TrainingError, match=words):
        TrainParams.from_mapping(data)


def test_no_possible_training_pair_is_a_400(app, client, settings, admin_headers):
    """Only 1-2 star ratings, design codes off, no augmentation: the job would find nothing to learn from."""
    catalog = Catalog(settings.db_path)
    images = catalog.live_images()
    from swatch.catalog.feedback import add_rating

    for query in images[:6]:
        for result in images[6:10]:
            add_rating(catalog, query.path, result.path, "pattern", "v1", 1)
    resp = client.post("/api/train", json={"designs": False, "augment": 0, "min_ratings": 5, "holdout": 0.0},
                       headers=admin_headers)
    assert resp.status_code == 400 and "no training pairs" in resp.get_json()["error"]
    assert client.get("/api/jobs?kind=train").get_json()["jobs"] == []
    # the same ratings with the design codes do train
    ok = client.post("/api/train", json={"augment": 0, "min_ratings": 5, "holdout": 0.0, "epochs": 1},
                     headers=admin_headers)
    assert ok.status_code == 202
    runner = app.extensions["swatch.jobs"]
    runner.wait(ok.get_json()["job"], 300)
    assert runner.get(ok.get_json()["job"])["state"] == "done"
