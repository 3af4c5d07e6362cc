"""CSV text through Arrow: numbers written exactly as Python writes them, input cells echoed as the file wrote them."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from xornet.csv_text import chosen_cells, float_texts, join_rows, parse_numbers, read_lines


@settings(max_examples=500, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=40))
def test_any_float_is_written_as_pythons_repr(values):
    assert float_texts(np.array(values)).to_pylist() == [repr(v) for v in values]


def test_float32_outputs_of_every_magnitude_are_written_as_pythons_repr():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 30, 100_000).astype("float32")
    with np.errstate(over="ignore"):  # a saturated sigmoid gives exactly 0 or 1: those are wanted here
        sigmoid = 1 / (1 + np.exp(-logits))
    values = np.concatenate([sigmoid, rng.random(10_000, "float32"),
                             (10 ** rng.uniform(-8, 12, 10_000) * rng.choice([-1, 1], 10_000)).astype("float32"),
                             np.array([0, -0.0, 1, 1e-4, 1e-5, 1e-6, 2e-7, 1e10, 123], "float32")]).astype("float64")
    assert float_texts(values).to_pylist() == [repr(v) for v in values.tolist()]


def test_lines_cells_and_rows_keep_the_files_text():
    lines = read_lines(b"a, b ,c\r\n\n   \n1,2,3\n4,5,6")  # CRLF, blank lines, no newline at the end
    assert lines.to_pylist() == ["a, b ,c", "1,2,3", "4,5,6"]
    assert chosen_cells(lines, 3, [0, 1]).to_pylist() == ["a, b", "1,2", "4,5"]
    assert chosen_cells(lines, 3, [2, 0]).to_pylist() == ["c,a", "3,1", "6,4"]
    assert parse_numbers(b"1,2,x\n3,4,y\n", 3, [1, 0]).tolist() == [[2.0, 1.0], [4.0, 3.0]]
    assert bytes(join_rows([lines[1:], float_texts(np.array([0.5, 1e-7]))])) == b"1,2,3,0.5\n4,5,6,1e-07\n"
