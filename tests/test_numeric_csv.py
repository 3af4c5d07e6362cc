"""The C parser of plain numbers (xornet/data/_numeric_csv.c) gives pyarrow's float32 for every cell it takes,
and leaves every other chunk to pyarrow."""

import io
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from hypothesis import example, given, settings
from hypothesis import strategies as st

from conftest import write
from xornet.data import parallel_csv, read_table
from xornet.data._numeric_csv import parse_floats  # built by `pip install -e .`: CI must have it
from xornet.data.readers import NULL_VALUES


def pyarrow_floats(text: bytes, columns: int) -> np.ndarray:
    names = [f"c{i}" for i in range(columns)]
    table = pacsv.read_csv(io.BytesIO(text), read_options=pacsv.ReadOptions(column_names=names),
                           convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.float32()),
                                                                null_values=NULL_VALUES))
    return np.column_stack([table.column(name).to_numpy() for name in names]).astype("float32")


def ours(text: bytes, columns: int) -> tuple[int, np.ndarray]:
    block = np.full((text.count(b"\n") + 1, columns), 7.0, "float32")
    rows = parse_floats(text, block, 0, columns)
    return rows, block[:max(rows, 0)]


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view("uint32"), b.view("uint32"))


decimals = st.builds(
    lambda sign, whole, fraction, point, exponent: f"{sign}{whole}{'.' if point else ''}{fraction}{exponent}",
    st.sampled_from(["", "-", "+"]), st.from_regex(r"[0-9]{0,22}", fullmatch=True),
    st.from_regex(r"[0-9]{0,22}", fullmatch=True), st.booleans(),
    st.one_of(st.just(""), st.builds(lambda e, n: f"{e}{n:+d}" if n % 2 else f"{e}{abs(n)}",
                                     st.sampled_from("eE"), st.integers(-60, 60)))
).filter(lambda cell: any(c.isdigit() for c in cell.split("e")[0].split("E")[0]))


@settings(max_examples=300, deadline=None)
@given(st.lists(decimals, min_size=1, max_size=30))
@example(["16777217", "3.4028235e38", "1e-45", "0.1", "-0", "0e999"])  # a float32 midpoint, the largest, a subnormal
def test_every_number_it_takes_is_the_float32_pyarrow_reads(cells):
    expected = pyarrow_floats("".join(f"{cell}\n" for cell in cells).encode(), 1)
    for cell, value in zip(cells, expected):
        rows, block = ours(f"{cell}\n".encode(), 1)
        assert rows == -1 or (rows == 1 and same_bits(block[0], value)), cell  # -1: left to pyarrow


def halfway_distance(cell: bytes, nearest: np.float32) -> float:
    """How far (relative) the decimal in `cell` is from the nearest point halfway between two float32s."""
    exact = Fraction(cell.decode().strip())
    neighbours = [np.nextafter(nearest, np.float32(direction)) for direction in (-np.inf, np.inf)]
    return float(min(abs(exact - (Fraction(float(nearest)) + Fraction(float(other))) / 2) for other in neighbours)
                 / abs(exact))


def test_numbers_next_to_a_point_halfway_between_two_float32s_round_as_pyarrow_rounds_them():
    """The hard cases of rounding: decimals at and around the midpoints of random float32 neighbours. All the
    parser takes equal pyarrow's; it leaves to pyarrow only those within about 1e-15 (relative) of a midpoint,
    where it cannot be certain."""
    rng = np.random.default_rng(0)
    low = (rng.choice([-1, 1], 1000) * rng.uniform(0.1, 30, 1000) ** 3).astype("float32")
    middle = (low.astype("float64") + np.nextafter(low, np.float32(np.inf)).astype("float64")) / 2
    cells = []
    for value in middle:
        for digits, offset in [(9, 0), (12, 0), (17, 1e-13), (19, 1e-13), (17, 0), (19, 0)]:
            for sign in (-1, 1):
                mantissa, exponent = f"{value * (1 + sign * offset):.{digits - 1}e}".split("e")
                cells += [((digits, offset), f"{mantissa[:-1]}{last}e{exponent}\n".encode())
                          for last in {int(mantissa[-1]) + step for step in (-1, 0, 1)} & set(range(10))]
    expected = pyarrow_floats(b"".join(cell for _, cell in cells), 1)
    taken, offered = {}, {}
    for (case, cell), value in zip(cells, expected):
        rows, block = ours(cell, 1)
        if rows == 1:
            assert same_bits(block[0], value), cell
        else:
            assert halfway_distance(cell, value[0]) < 1e-14, cell
        taken[case] = taken.get(case, 0) + (rows == 1)
        offered[case] = offered.get(case, 0) + 1
    assert taken[17, 1e-13] == offered[17, 1e-13] and taken[19, 1e-13] == offered[19, 1e-13]
    assert taken[17, 0] == taken[19, 0] == 0 and offered[17, 0] > 4 * len(middle)
    assert taken[9, 0] == offered[9, 0] and taken[12, 0] == offered[12, 0]


def test_what_writers_write_is_taken_whole():
    """Floats as NumPy, pandas and pyarrow write them (shortest float32 and float64 text, fixed decimals,
    exponents), with CRLF line ends, blank lines and no last line end: one call reads all."""
    rng = np.random.default_rng(1)
    values = rng.normal(size=(500, 4)) * np.logspace(-8, 8, 4)
    lines = [",".join(repr(float(np.float32(v))) for v in values[0])]
    lines += [",".join(repr(float(v)) for v in row) for row in values[1:200]]
    lines += [",".join(f"{v:.4f}" for v in row) for row in values[200:400]]
    lines += [",".join(f"{v:.6e}" for v in row) for row in values[400:]]
    text = ("\r\n".join(lines[:300]) + "\n\n" + "\n".join(lines[300:])).encode()
    rows, block = ours(text, 4)
    assert rows == 500 and same_bits(block, pyarrow_floats(text, 4))


def test_anything_but_plain_numbers_is_left_to_pyarrow():
    for text in [b"1,2\n3\n", b"1,2,3\n", b"1, 2\n", b'"1",2\n', b"1,\n", b"nan,1\n", b"inf,1\n", b"1,2\r3,4\n",
                 b"-,1\n", b"1e,2\n", b".,2\n", b"0x1,2\n", b"1;2\n", b"12345678901234567890,1\n", b"1e-50,1\n",
                 b"\xef\xbb\xbf1,2\n", b"0." + b"0" * 5000 + b"1e5000,2\n"]:
        assert ours(text, 2)[0] == -1, text
    assert ours(b"1,2\n3,4\n5,6\n", 2)[0] == 3
    assert parse_floats(b"1,2\n3,4\n5,6\n", np.empty((2, 2), "float32"), 0, 2) == -1  # no room for the third row


def test_a_numeric_csv_in_many_chunks_reads_as_pyarrow_reads_it_whole(workdir, monkeypatch):
    """Chunks of plain numbers go to the C parser; a chunk with a missing cell, quotes or spaces goes to pyarrow:
    the columns equal pyarrow's whole-file read either way."""
    rng = np.random.default_rng(5)
    lines = ["a,b,y"]
    for index, (a, b) in enumerate(rng.normal(size=(400, 2)).round(5)):
        cells = [f"{a}", f"{b}", str(int(a + b > 0))]
        if index % 50 == 7:
            cells[0] = ["", '"1.25"', " 3", "NA"][index // 50 % 4]
        lines.append(",".join(cells) + ("\r\n" if index % 3 else "\n\n"))
    path = write("mixed.csv", lines[0] + "\n" + "".join(lines[1:]).rstrip("\r\n"))
    whole = pacsv.read_csv(workdir / "mixed.csv", convert_options=pacsv.ConvertOptions(
        null_values=NULL_VALUES, column_types={"a": pa.float32(), "b": pa.float32(), "y": pa.float32()}))
    answers = []

    def counted(*args):
        answers.append(parse_floats(*args))
        return answers[-1]
    monkeypatch.setattr(parallel_csv, "parse_floats", counted)
    monkeypatch.setattr(parallel_csv, "CHUNK_BYTES", 100)
    table = read_table(workdir / "mixed.csv", infer_columns={"y"})
    assert table.rows == 400 and np.isnan(table.columns["a"]).sum() == 4
    for name in ("a", "b", "y"):
        assert same_bits(table.columns[name], whole.column(name).to_numpy().astype("float32"))
    chunks = [path.read_bytes()[start:stop] for start, stop in parallel_csv._chunks(path, len("a,b,y\n"))]
    plain = [chunk for chunk in chunks if not any(line.startswith((b",", b'"', b" ", b"NA")) for line in chunk.splitlines())]
    assert sorted(answers) == [-1] * (len(chunks) - len(plain)) + sorted(
        len(chunk.split()) for chunk in plain)
    assert len(chunks) - len(plain) == 8 and sum(answers) + 8 > 350


def test_installed_without_a_c_compiler_pyarrow_reads_the_same_values(workdir, monkeypatch):
    """`pip install` without a compiler skips the parser (parse_floats is None): every chunk goes to pyarrow."""
    rng = np.random.default_rng(2)
    values = rng.normal(size=(3000, 3)) * [1e-7, 1, 1e7]
    path = write("plain.csv", "a,b,c\n" + "".join(f"{float(a)!r},{b:.4f},{c:.6e}\n" for a, b, c in values))
    with_parser = read_table(path)
    monkeypatch.setattr(parallel_csv, "parse_floats", None)
    without = read_table(path)
    assert with_parser.rows == without.rows == 3000
    assert same_bits(with_parser.block.values, without.block.values)
