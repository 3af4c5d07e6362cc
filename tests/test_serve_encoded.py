"""`xornet serve` of a model with a categorical column and data.missing: mean: request bodies are encoded as
`xornet predict` encodes its inputs, and GET /model names the record's inputs (a real server, real HTTP)."""

import json

import pytest

from test_predict_encoded import CONFIG, ENCODED, HEADER, MISSING_REGION, ROW, cls_csv
from test_serve import Server, cli_json, train


@pytest.fixture(scope="module")
def cls_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("cls")
    (root / "cls.csv").write_text(cls_csv())
    (root / "configs").mkdir()
    (root / "configs/cls.yaml").write_text(CONFIG)
    model = train(root / "models", config=root / "configs/cls.yaml")
    running = Server("--model", model)
    yield running, model, root
    assert running.stop() == 0


def post_csv(running, text):
    return running.client.post("/predict", content=text, headers={"content-type": "text/csv"})


def test_csv_and_json_bodies_are_encoded_as_xornet_predict_encodes_a_file(cls_server):
    running, model, root = cls_server
    (root / "pm.csv").write_text(f"{HEADER}\n{ROW}\n1.5,,-0.4,red fox,east\n")
    expected = cli_json("predict", "--model", model, "--input", root / "pm.csv", "--format", "json")
    assert [row["input"][3:] for row in expected] == [[1, 0, 0], [1, 0, 0]]
    response = post_csv(running, (root / "pm.csv").read_text())
    assert (response.status_code, response.json()) == (200, expected)
    response = post_csv(running, "1.5,-0.9,-0.4,east\n1.5,,-0.4,east\n")  # no header: the features in order
    assert (response.status_code, response.json()) == (200, expected)
    response = running.client.post("/predict", json={"inputs": [[1.5, -0.9, -0.4, "east"], [1.5, None, -0.4, "east"]]})
    assert (response.status_code, response.json()) == (200, expected)


def test_json_rows_may_be_objects_keyed_by_feature_name_in_any_order(cls_server):
    running, model, root = cls_server
    (root / "pm.csv").write_text(f"{HEADER}\n{ROW}\n1.5,,-0.4,red fox,east\n")
    expected = cli_json("predict", "--model", model, "--input", root / "pm.csv", "--format", "json")
    rows = [{"region": "east", "f3": -0.4, "f1": 1.5, "f2": -0.9}, {"f1": 1.5, "f2": None, "f3": -0.4, "region": "east"}]
    response = running.client.post("/predict", json={"inputs": rows})
    assert (response.status_code, response.json()) == (200, expected)
    response = running.client.post("/predict", json={"inputs": [rows[0], [1.5, None, -0.4, "east"]]})
    assert (response.status_code, response.json()) == (200, expected)


@pytest.mark.parametrize("body, content_type, error", [
    ('{"inputs": [{"f1": 1.5, "f2": -0.9, "f3": -0.4, "regoin": "east"}]}', "application/json",
     "request body, row 1: no value for feature 'region' (did you mean 'regoin'?), expected the training features "
     "(f1, f2, f3, region), received keys 'f1', 'f2', 'f3', 'regoin'"),
    ('{"inputs": [{}]}', "application/json", "request body, row 1: no value for feature 'f1', expected the "
     "training features (f1, f2, f3, region), received an empty object"),
    ('{"inputs": [{"f1": 1.5, "f2": -0.9, "f3": -0.4, "region": "west"}]}', "application/json",
     "request body, row 1, column 'region': unknown category 'west', the training rows have: east, north, south "
     "(hint: train with data.unknown: ignore to give unseen categories their own column)"),
    ('{"inputs": [{"f1": 1.5, "f2": "x", "f3": -0.4, "region": "east"}]}', "application/json",
     "request body, row 1, column 'f2': expected a number, received \"x\""),
    ('{"inputs": [[1.5, -0.9, -0.4, "east"], {"f1": 1.5, "f2": -0.9, "f3": -0.4, "region": "east", "animal": "jay"}]}',
     "application/json", "request body, row 2: unknown key 'animal', expected only the training features "
     "(f1, f2, f3, region)"),
    (f"{HEADER}\n{ROW}\n1.5,-0.9,-0.4,red fox,\n", "text/csv",
     f"request body, line 3, column 'region': {MISSING_REGION}"),
    ('{"inputs": [[1.5, -0.9, -0.4, null]]}', "application/json", f"request body, row 1, column 4: {MISSING_REGION}"),
    ('{"inputs": [[1.5, -0.9, -0.4, 1]]}', "application/json",
     "request body, row 1, column 4: expected a category as text, received 1"),
    ('{"inputs": [[1.5, "-0.9", -0.4, "east"]]}', "application/json",
     'request body, row 1, column 2: expected a number, received "-0.9"'),
    ('{"inputs": [[1.5, -0.9, -0.4, 1, 0, 0]]}', "application/json",
     "request body, row 1: expected 4 values (the training features f1, f2, f3, region), received 6"),
    ("1.5,-0.9,-0.4,west\n", "text/csv",
     "request body, line 1, column 4: unknown category 'west', the training rows have: east, north, south "
     "(hint: train with data.unknown: ignore to give unseen categories their own column)"),
])
def test_bad_rows_are_refused_as_xornet_predict_refuses_them(cls_server, body, content_type, error):
    running, _, _ = cls_server
    response = running.client.post("/predict", content=body, headers={"content-type": content_type})
    assert (response.status_code, response.json()) == (422, {"error": error})


def test_model_names_the_records_inputs_and_the_features_a_request_sends(cls_server):
    running, model, _ = cls_server
    facts = running.client.get("/model").json()
    assert facts["input"] == {"width": 6, "names": ENCODED.split(","), "features": ["f1", "f2", "f3", "region"],
                              "categories": {"region": ["east", "north", "south"]}}
    record = json.loads(model.with_name("basic_run.json").read_text())["data"]
    assert facts["input"]["names"] == record["inputs"] and facts["input"]["features"] == record["features"]
    rows = cli_json("predict", "--model", model, "--x", "1.5,-0.9,-0.4,east", "--format", "json")
    assert len(rows[0]["input"]) == facts["input"]["width"]
