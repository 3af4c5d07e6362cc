/* Parsing lines of plain decimal numbers into a float32 block, without the GIL.

   xornet.data.parallel_csv calls this on each chunk of a CSV file whose columns
   are all numbers. It accepts only the plainest text: cells separated by commas,
   lines ending in \n or \r\n, empty lines skipped, and each cell a decimal number
   ([+-]digits[.digits][(e|E)[+-]digits], with at least one digit before the
   exponent). On anything else (a quote, a space, an empty or missing cell,
   "nan", a line of another width, a number it cannot round with certainty) it
   gives up on the whole chunk and returns -1: pyarrow then reads that chunk,
   with its own rules and its own errors. So this parser only ever decides
   values pyarrow would read, and it must give the same float32 for them, the
   one nearest the decimal value (tests/test_numeric_csv.py checks it against
   pyarrow).

   Example (Python):
       >>> block = np.empty((2, 2), "float32")
       >>> parse_floats(b"1.5,2\n-3e2,4\n", block, 0, 2), block.tolist()
       (2, [[1.5, 2.0], [-300.0, 4.0]])
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#define MAX_DIGITS 400

/* Powers of ten that a double holds exactly (5^22 < 2^53). */
static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The float32 nearest to mantissa * 10^exponent, in *value; 0 when this shortcut cannot be certain of it. */
static int nearest_float32(uint64_t mantissa, int exponent, float *value)
{
    if (mantissa == 0) {
        *value = 0.0f;
        return 1;
    }
    if (exponent < -66 || exponent > 66)
        return 0;
    if (mantissa <= (1u << 24) && exponent >= -10 && exponent <= 10) {
        /* Both operands are exact in float32 (5^10 < 2^24), so one division or product in double, rounded
           once to float32, is correctly rounded (53 >= 2 * 24 + 2 bits). */
        double exact = (double)mantissa;
        *value = (float)(exponent < 0 ? exact / POW10[-exponent] : exact * POW10[exponent]);
        return 1;
    }
    /* Otherwise the double below is rounded at most four times (the mantissa when it is over 2^53, then up to
       three divisions or products by exact powers of ten), so it lies within 4 units in its last place of the
       decimal value. Rounding it to float32 then gives the nearest float32, unless a point halfway between
       two float32s lies within 8 such units of it (twice the error, for margin). */
    double approximate = (double)mantissa;
    for (; exponent < -22; exponent += 22)
        approximate /= 1e22;
    for (; exponent > 22; exponent -= 22)
        approximate *= 1e22;
    approximate = exponent < 0 ? approximate / POW10[-exponent] : approximate * POW10[exponent];
    uint64_t bits;
    memcpy(&bits, &approximate, sizeof bits);
    int binary_exponent = (int)((bits >> 52) & 0x7ff) - 1023;
    if (binary_exponent < -126 || binary_exponent > 127)
        return 0; /* float32's subnormals and overflow: left to pyarrow */
    uint64_t dropped = bits & ((1ull << 29) - 1); /* the 29 bits a float32 has fewer than a double */
    uint64_t halfway = 1ull << 28;
    if (dropped + 8 > halfway && dropped < halfway + 8)
        return 0;
    *value = (float)approximate;
    return !isinf(*value);
}

/* Parse text[0:size) into block rows from `row` on; the number of rows parsed, or -1 to leave the text to
   pyarrow (see above), or when it holds more rows than the block has room for. */
static Py_ssize_t parse(const unsigned char *text, Py_ssize_t size, float *block, Py_ssize_t rows,
                        Py_ssize_t columns, Py_ssize_t row)
{
    const unsigned char *at = text, *end = text + size;
    Py_ssize_t first = row;
    while (at < end) {
        if (*at == '\n') {
            at++;
            continue;
        }
        if (*at == '\r' && at + 1 < end && at[1] == '\n') {
            at += 2;
            continue;
        }
        if (row >= rows)
            return -1;
        float *out = block + row * columns;
        for (Py_ssize_t column = 0; column < columns; column++) {
            int negative = 0;
            if (at < end && (*at == '-' || *at == '+')) {
                negative = *at == '-';
                at++;
            }
            uint64_t mantissa = 0;
            int exponent = 0, digits = 0, significant = 0;
            /* At most MAX_DIGITS digits (a longer number is left to pyarrow), so `exponent` cannot overflow. */
            for (; at < end && (unsigned)(*at - '0') < 10 && digits < MAX_DIGITS; at++, digits++) {
                significant += mantissa != 0 || *at != '0';
                mantissa = mantissa * 10 + (*at - '0');
            }
            if (at < end && *at == '.') {
                for (at++; at < end && (unsigned)(*at - '0') < 10 && digits < MAX_DIGITS; at++, digits++, exponent--) {
                    significant += mantissa != 0 || *at != '0';
                    mantissa = mantissa * 10 + (*at - '0');
                }
            }
            if (digits == 0 || digits == MAX_DIGITS || significant > 19) /* 19 digits always fit in 64 bits */
                return -1;
            if (at < end && (*at == 'e' || *at == 'E')) {
                int exponent_negative = 0, written = 0, power = 0;
                at++;
                if (at < end && (*at == '-' || *at == '+')) {
                    exponent_negative = *at == '-';
                    at++;
                }
                for (; at < end && (unsigned)(*at - '0') < 10; at++, written++) {
                    if (power < 10000)
                        power = power * 10 + (*at - '0');
                }
                if (written == 0)
                    return -1;
                exponent += exponent_negative ? -power : power;
            }
            if (column < columns - 1) {
                if (at >= end || *at != ',')
                    return -1;
                at++;
            } else if (at < end) {
                if (*at == '\n')
                    at++;
                else if (*at == '\r' && at + 1 < end && at[1] == '\n')
                    at += 2;
                else
                    return -1;
            }
            float value;
            if (!nearest_float32(mantissa, exponent, &value))
                return -1;
            out[column] = negative ? -value : value;
        }
        row++;
    }
    return row - first;
}

static PyObject *parse_floats(PyObject *module, PyObject *args)
{
    Py_buffer text, block;
    Py_ssize_t row, columns, parsed;
    if (!PyArg_ParseTuple(args, "y*w*nn:parse_floats", &text, &block, &row, &columns))
        return NULL;
    if (columns < 1 || row < 0 || block.len % (Py_ssize_t)(columns * sizeof(float)) != 0) {
        PyBuffer_Release(&text);
        PyBuffer_Release(&block);
        PyErr_SetString(PyExc_ValueError, "parse_floats: expected a float32 block of `columns` columns");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    parsed = parse(text.buf, text.len, block.buf, block.len / (Py_ssize_t)(columns * sizeof(float)), columns,
                   row);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&text);
    PyBuffer_Release(&block);
    return PyLong_FromSsize_t(parsed);
}

static PyMethodDef methods[] = {
    {"parse_floats", parse_floats, METH_VARARGS,
     "parse_floats(text, block, row, columns) -> rows parsed into block[row:], or -1 to leave text to pyarrow"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_numeric_csv", NULL, 0, methods};

PyMODINIT_FUNC PyInit__numeric_csv(void) { return PyModule_Create(&module); }
