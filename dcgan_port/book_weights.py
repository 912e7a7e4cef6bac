"""The Book's initial weights: the values Paddle 1.8's CPU initialisers gave the chapter's parameters for
the Book's random_seed (90), computed here in numpy, so that `--enable_ce true` starts where the Book's own
continuous-evaluation job started (issue 23). Paddle 2.x and 3.x draw other numbers for the same seed.

What Fluid 1.8 did, and what this module repeats:
- Every initialiser op whose own seed is 0 takes the startup program's random_seed, so each parameter's
  tensor is drawn by a fresh engine, std::minstd_rand seeded with 90: all tensors start the same stream.
- fc weights and conv2d_transpose filters default to Xavier-uniform: uniform_random on [-l, l],
  l = sqrt(6 / (fan_in + fan_out)), drawn by libstdc++'s uniform_real_distribution<float>: one engine draw
  per value through generate_canonical<float, 24>, then u * (max - min) + min in float.
- conv2d filters default to Normal(0, sqrt(2 / (k * k * c_in))): gaussian_random, drawn by
  std::normal_distribution<float>: Marsaglia's polar method on pairs of canonical floats, two values per
  accepted pair (the second of the pair first), then value * std + mean in float; the logarithm is
  glibc's logf (since glibc 2.28, 2018), which paddle 1.8.5 calls on Linux.
- Biases are 0; batch norm's scale 1, bias 0, moving mean 0, moving variance 1.
The float arithmetic is libstdc++'s, step by step, so the values are paddle 1.8.5's to the bit
(tests/test_book_ce.py holds them against paddle 1.8.5's own, recorded by bench/book_side_by_side.py).
"""
import re

import numpy as np

BOOK_RANDOM_SEED = 90  # fluid.default_startup_program().random_seed in the Book's CE mode

MINSTD_MULTIPLIER = 48271  # std::minstd_rand: x <- 48271 x mod (2^31 - 1), output x
MINSTD_MODULUS = 2 ** 31 - 1
_BLOCK = 4096


def minstd_draws(seed, count):
    """The first count outputs of std::minstd_rand seeded with seed, as uint64."""
    state = seed % MINSTD_MODULUS or 1  # linear_congruential_engine::seed: 0 becomes 1
    powers = np.empty(_BLOCK, dtype=np.uint64)  # multiplier^1 .. multiplier^_BLOCK mod m
    powers[0] = MINSTD_MULTIPLIER
    for i in range(1, _BLOCK):
        powers[i] = int(powers[i - 1]) * MINSTD_MULTIPLIER % MINSTD_MODULUS
    jump = int(powers[-1])
    blocks = -(-count // _BLOCK)
    starts = np.empty(blocks, dtype=np.uint64)  # the state before each block
    for b in range(blocks):
        starts[b] = state
        state = state * jump % MINSTD_MODULUS
    draws = starts[:, None] * powers[None, :] % np.uint64(MINSTD_MODULUS)  # < 2^62: exact in uint64
    return draws.reshape(-1)[:count]


def canonical_floats(draws):
    """libstdc++'s generate_canonical<float, 24>(minstd_rand): one draw, float(draw - 1) / float(2^31 - 2)
    in float (the divisor rounds to 2^31), and a 1 made the largest float below 1."""
    floats = (draws - np.uint64(1)).astype(np.float32) / np.float32(2 ** 31)
    return np.minimum(floats, np.nextafter(np.float32(1), np.float32(0)))


class Stream:
    """The canonical floats of the engine seeded with seed, computed once as far as any tensor needs."""

    def __init__(self, seed):
        self.seed, self.floats = seed, np.empty(0, dtype=np.float32)

    def first(self, count):
        if count > len(self.floats):
            self.floats = canonical_floats(minstd_draws(self.seed, max(count, 2 * len(self.floats))))
        return self.floats[:count]


def uniform_random(stream, count, low, high):
    """Paddle 1.8's CPU uniform_random: uniform_real_distribution<float>(low, high), low and high being
    the op's float attributes."""
    low, high = np.float32(low), np.float32(high)
    return stream.first(count) * (high - low) + low


def gaussian_random(stream, count, mean, std):
    """Paddle 1.8's CPU gaussian_random: normal_distribution<float>(mean, std), Marsaglia's polar method
    as libstdc++ writes it: x = 2u - 1 (the subtraction in double), r2 = x*x + y*y in float, pairs with
    r2 > 1 or r2 == 0 rejected, mult = sqrt(-2 log(r2) / r2) in float; y * mult, then x * mult."""
    pairs = count // 2 + 1
    while True:
        u = stream.first(2 * int(pairs * 1.35) + 64).astype(np.float64)
        xy = (2.0 * u - 1.0).astype(np.float32).reshape(-1, 2)
        x, y = xy[:, 0], xy[:, 1]
        r2 = x * x + y * y
        accepted = (r2 <= 1.0) & (r2 != 0.0)
        if 2 * accepted.sum() >= count:
            break
        pairs *= 2
    x, y, r2 = x[accepted], y[accepted], r2[accepted]
    mult = np.sqrt(np.float32(-2) * logf(r2) / r2)
    values = np.stack([y * mult, x * mult], axis=1).reshape(-1)[:count]
    return values * np.float32(std) + np.float32(mean)


# glibc's logf (since 2.28; from Arm's optimized-routines, MIT licence): 1/c and log(c) for 16
# subintervals of [0x3f330000, 2 * 0x3f330000), ln 2 and the polynomial for log1p(r), all in double.
_LOGF_TABLE = np.array([float.fromhex(h) for h in (
    "0x1.661ec79f8f3bep+0", "-0x1.57bf7808caadep-2", "0x1.571ed4aaf883dp+0", "-0x1.2bef0a7c06ddbp-2",
    "0x1.49539f0f010bp+0", "-0x1.01eae7f513a67p-2", "0x1.3c995b0b80385p+0", "-0x1.b31d8a68224e9p-3",
    "0x1.30d190c8864a5p+0", "-0x1.6574f0ac07758p-3", "0x1.25e227b0b8eap+0", "-0x1.1aa2bc79c81p-3",
    "0x1.1bb4a4a1a343fp+0", "-0x1.a4e76ce8c0e5ep-4", "0x1.12358f08ae5bap+0", "-0x1.1973c5a611cccp-4",
    "0x1.0953f419900a7p+0", "-0x1.252f438e10c1ep-5", "0x1p+0", "0x0p+0",
    "0x1.e608cfd9a47acp-1", "0x1.aa5aa5df25984p-5", "0x1.ca4b31f026aap-1", "0x1.c5e53aa362eb4p-4",
    "0x1.b2036576afce6p-1", "0x1.526e57720db08p-3", "0x1.9c2d163a1aa2dp-1", "0x1.bc2860d22477p-3",
    "0x1.886e6037841edp-1", "0x1.1058bc8a07ee1p-2", "0x1.767dcf5534862p-1", "0x1.4043057b6ee09p-2")
]).reshape(16, 2)
_LOGF_LN2 = float.fromhex("0x1.62e42fefa39efp-1")
_LOGF_POLY = [float.fromhex(h) for h in ("-0x1.00ea348b88334p-2", "0x1.5575b0be00b6ap-2",
                                         "-0x1.ffffef20a4123p-2")]
_LOGF_OFF = 0x3f330000


def logf(x):
    """logf of positive normal float32 values as glibc (2.28 and later) computes it, the libm paddle 1.8.5
    calls on Linux. It is not always the correctly rounded log (0.82 ulp at worst): for the conv filters'
    draws 1 logarithm in 140 differs from that, and with it 2 weights."""
    ix = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.int64)
    if np.any((ix < 0x00800000) | (ix >= 0x7f800000)):
        raise ValueError("logf here takes positive normal floats only")
    tmp = ix - _LOGF_OFF
    i = (tmp >> 19) % 16
    k = tmp >> 23  # arithmetic shift, as glibc's (int32_t) tmp >> 23
    z = (ix - (tmp & ~0x7fffff)).astype(np.uint32).view(np.float32).astype(np.float64)
    r = z * _LOGF_TABLE[i, 0] - 1
    y0 = _LOGF_TABLE[i, 1] + k * _LOGF_LN2
    r2 = r * r
    y = _LOGF_POLY[1] * r + _LOGF_POLY[2]
    y = _LOGF_POLY[0] * r2 + y
    y = y * r2 + (y0 + r)
    return np.where(ix == 0x3f800000, 0.0, y).astype(np.float32)


def xavier_limit(shape):
    """Fluid 1.8's XavierInitializer bound, sqrt(6 / (fan_in + fan_out)): a matrix [in, out] has the fans
    of its two sides, a filter [a, b, k, k] fan_in b*k*k and fan_out a*k*k."""
    receptive_field = int(np.prod(shape[2:]))
    fan_in, fan_out = shape[1] * receptive_field, shape[0] * receptive_field
    if len(shape) == 2:
        fan_in, fan_out = shape
    return np.sqrt(6.0 / (fan_in + fan_out))


def conv2d_std(shape):
    """Fluid 1.8's conv2d default, Normal(0, sqrt(2 / (k * k * c_in))), for a filter [c_out, c_in, k, k]."""
    return (2.0 / int(np.prod(shape[1:]))) ** 0.5


# The chapter's parameter names (conv1w, bn11, ..., deconv2b) by layer: what Fluid 1.8 initialised each with.
_BN_CONSTANTS = {"1": 1.0, "2": 0.0, "3": 0.0, "4": 1.0}  # scale, bias, moving mean, moving variance
_LAYER = r"(conv|fc|deconv|bn)(\d)"


def initialiser(name, shape):
    """('uniform', low, high), ('normal', mean, std) or ('constant', value): the Fluid 1.8 initialiser of the
    chapter's parameter (or batch-norm statistic) name, of this shape."""
    match = re.fullmatch(_LAYER + r"([wb1-4])", name)
    if not match:
        raise ValueError("{} is not one of the chapter's parameters (conv1w, bn11, ..., deconv2b)".format(name))
    layer, _, suffix = match.groups()
    if layer == "bn":
        if suffix not in _BN_CONSTANTS:
            raise ValueError("{}: batch norm's variables end in 1 to 4".format(name))
        return ("constant", _BN_CONSTANTS[suffix])
    if suffix == "b":
        return ("constant", 0.0)
    if suffix != "w":
        raise ValueError("{}: a {} layer has a w and a b".format(name, layer))
    if layer == "conv":
        return ("normal", 0.0, conv2d_std(shape))
    limit = xavier_limit(shape)
    return ("uniform", -limit, limit)


def book_initial_value(name, shape, seed=BOOK_RANDOM_SEED, stream=None):
    """The float32 tensor Paddle 1.8's CPU initialiser gave the chapter's parameter name, of this shape,
    for the startup program's random_seed (stream: a Stream(seed) to reuse for several tensors)."""
    shape = tuple(int(d) for d in shape)
    count = int(np.prod(shape))
    spec = initialiser(name, shape)
    if spec[0] == "constant":
        return np.full(shape, spec[1], dtype=np.float32)
    stream = stream or Stream(seed)
    draw = uniform_random if spec[0] == "uniform" else gaussian_random
    return draw(stream, count, *spec[1:]).reshape(shape)


def set_book_initial_values(place, *programs, scope=None, seed=BOOK_RANDOM_SEED):
    """After the startup program ran: give every parameter of the programs, and batch norm's moving
    statistics, the value Paddle 1.8 started them from, in scope (paddle's global scope by default). Adam's
    accumulators keep their constants, which are 1.8's. Returns the names set; a parameter that is not
    the chapter's stops it (ValueError) rather than keep Paddle's own draw."""
    if scope is None:
        import paddle
        scope = paddle.static.global_scope()
    names = set()
    for program in programs:
        names.update(program.state_dict("param"))  # batch norm's moving statistics are among them
    stream = Stream(seed)
    for name in sorted(names):
        tensor = scope.find_var(name).get_tensor()
        tensor.set(book_initial_value(name, tensor.shape(), seed, stream), place)
    return sorted(names)
