# twitchwatch band protocol v1: the band-side encoder (see docs/protocol.md).
#
# Plain MicroPython: runs unchanged under CPython for the gateway's simulated band, and
# must produce the bytes of tests/vectors/protocol_v1.json on both interpreters.
# Functions that run per frame write into a caller-owned buffer so that the band's
# send path allocates nothing.
import struct

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


VERSION = const(1)

# Data frame flags.
F_ACC = const(0x01)
F_GYRO = const(0x02)
F_BACKLOG = const(0x04)
F_LOSS = const(0x08)

HEADER_SIZE = const(20)
MAX_COUNT = const(255)
NOTIFY_OVERHEAD = const(3)  # ATT opcode + handle
MAX_NOTIFY_PER_S = const(40)  # above this some ESP32 stacks drop the link

# Control opcodes.
OP_START = const(0x01)
OP_STOP = const(0x02)
OP_SET_RATE = const(0x03)
OP_SET_RANGE = const(0x04)
OP_TIME_SYNC = const(0x05)

# Status state bits and error codes.
S_STREAMING = const(0x01)
S_MTU_TOO_SMALL = const(0x02)
S_IMU_ERROR = const(0x04)
S_SENDING_BACKLOG = const(0x08)
E_NONE = const(0)
E_OPCODE = const(1)
E_ARGUMENT = const(2)
E_IMU = const(3)
E_FLASH_FULL = const(4)

RATES_HZ = (50, 100, 200)

_HDR = "<BBHIQHBB"
_META = "<BBBBHBBbbbbbbBBI"
_STATUS = "<BBHBBHIIIIIQI"
META_SIZE = const(20)
STATUS_SIZE = const(40)


def channels(flags):
    return 6 if flags & F_GYRO else 3


def ranges_code(accel_code, gyro_code):
    return (accel_code & 0x0F) | ((gyro_code & 0x0F) << 4)


def frame_size(count, n_channels):
    return HEADER_SIZE + count * n_channels * 2


def samples_per_frame(mtu, n_channels):
    """Samples that fit one notification at this ATT MTU (0 at the default MTU of 23)."""
    room = mtu - NOTIFY_OVERHEAD - HEADER_SIZE
    if room <= 0:
        return 0
    n = room // (2 * n_channels)
    return n if n < MAX_COUNT else MAX_COUNT


def min_samples_per_frame(rate_hz):
    """Samples a frame must carry to keep up at MAX_NOTIFY_PER_S notifications per second."""
    return (rate_hz + MAX_NOTIFY_PER_S - 1) // MAX_NOTIFY_PER_S


def pack_frame_into(buf, flags, seq, first_index, t_us, period_us, count, ranges, samples):
    """Write one data frame into buf; return its length.

    samples: a bytes-like object holding count * channels little-endian int16 values.
    """
    n = frame_size(count, channels(flags))
    struct.pack_into(_HDR, buf, 0, VERSION, flags, seq & 0xFFFF, first_index,
                     t_us, period_us, count, ranges)
    buf[HEADER_SIZE:n] = samples
    return n


def pack_t64_into(buf, off, t_hi, t_lo):
    """Write the u64 t_hi * 2**30 + t_lo (0 <= t_lo < 2**30) at buf[off:off+8].

    The band keeps its 64-bit clock as two small ints: on 32-bit ports ints above 2**30
    are heap objects, so packing by 16-bit pieces keeps the send path allocation-free.
    """
    struct.pack_into("<HHI", buf, off, t_lo & 0xFFFF, (t_lo >> 16) | ((t_hi & 3) << 14),
                     t_hi >> 2)


def pack_header_into(buf, flags, seq, first_index, t_hi, t_lo, period_us, count, ranges):
    """pack_frame_into's header with the time split as in pack_t64_into; returns the length."""
    struct.pack_into("<BBHI", buf, 0, VERSION, flags, seq & 0xFFFF, first_index)
    pack_t64_into(buf, 8, t_hi, t_lo)
    struct.pack_into("<HBB", buf, 16, period_us, count, ranges)
    return frame_size(count, channels(flags))


def set_flags_seq(buf, flags, seq):
    """Rewrite flags and seq of a packed header (a stored block sent on a new connection)."""
    buf[1] = flags
    buf[2] = seq & 0xFF
    buf[3] = (seq >> 8) & 0xFF


def pack_samples(values):
    """Little-endian int16 bytes from a sequence of ints (tests and the simulator)."""
    out = bytearray(2 * len(values))
    for i in range(len(values)):
        struct.pack_into("<h", out, 2 * i, values[i])
    return out


def encode_frame(flags, seq, first_index, t_us, period_us, ranges, values):
    """A data frame as bytes, from a flat sequence of int16 values."""
    count = len(values) // channels(flags)
    buf = bytearray(frame_size(count, channels(flags)))
    pack_frame_into(buf, flags, seq, first_index, t_us, period_us, count, ranges,
                    pack_samples(values))
    return bytes(buf)


def encode_meta(fw_version, rate_hz, ranges, chan_flags, acc_map, gyro_map, part,
                wear_flags, ring_capacity):
    return struct.pack(_META, VERSION, fw_version[0], fw_version[1], fw_version[2], rate_hz,
                       ranges, chan_flags, acc_map[0], acc_map[1], acc_map[2],
                       gyro_map[0], gyro_map[1], gyro_map[2], part, wear_flags,
                       ring_capacity)


def pack_status_into(buf, battery_pct, battery_mv, state, last_error, mtu, sent, retries,
                     overflows, ring_dropped, ring_waiting, now_us, since_sync_s):
    struct.pack_into(_STATUS, buf, 0, VERSION, battery_pct, battery_mv, state, last_error,
                     mtu, sent, retries, overflows, ring_dropped, ring_waiting, now_us,
                     since_sync_s)
    return STATUS_SIZE


def decode_control(data):
    """(opcode, argument) of a control write; raise ValueError(error code) if malformed."""
    if len(data) < 1:
        raise ValueError(E_OPCODE)
    op = data[0]
    n = len(data)
    if op == OP_START or op == OP_STOP:
        if n != 1:
            raise ValueError(E_ARGUMENT)
        return op, None
    if op == OP_SET_RATE:
        if n != 3:
            raise ValueError(E_ARGUMENT)
        rate = data[1] | (data[2] << 8)
        if rate not in RATES_HZ:
            raise ValueError(E_ARGUMENT)
        return op, rate
    if op == OP_SET_RANGE:
        if n != 2 or (data[1] & 0x0F) > 3 or (data[1] >> 4) > 3:
            raise ValueError(E_ARGUMENT)
        return op, data[1]
    if op == OP_TIME_SYNC:
        if n != 9:
            raise ValueError(E_ARGUMENT)
        return op, struct.unpack_from("<Q", data, 1)[0]
    raise ValueError(E_OPCODE)
