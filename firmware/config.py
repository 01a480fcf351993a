# Band settings. Edit before `twitchwatch firmware build`; the control characteristic
# changes rate and range at run time without touching this file.
from micropython import const

FW_VERSION = (0, 1, 0)
MANUFACTURER = "twitchwatch"

RATE_HZ = const(100)  # 50, 100 or 200 (docs/protocol.md SET_RATE)
ACC_RANGE = const(2)  # protocol code: +/-2*2**a g, 2 = +/-8 g
GYRO_RANGE = const(3)  # protocol code: +/-250*2**r deg/s, 3 = +/-2000 deg/s
USE_GYRO = True  # stream the gyroscope when the part has one
WEAR_FLAGS = const(1)  # bit 0 wrist, bit 1 ankle
# Band axes from sensor axes (+/-1..3), per docs/protocol.md; the defaults assume the
# breakout lies flat with its x axis along the forearm.
ACC_MAP = (1, 2, 3)
GYRO_MAP = (1, 2, 3)

NAME_PREFIX = "tw-"
PREFERRED_MTU = const(247)  # 244-byte notifications: one stored block per frame
ADV_INTERVAL_US = const(250_000)

# At most 1000/30 = 33 notifications/s: under the protocol's 40/s, which leaves the
# status notification and the central's own traffic room.
NOTIFY_GAP_MS = const(30)
BACKOFF_MIN_MS = const(10)
BACKOFF_MAX_MS = const(320)
LATENCY_MS = const(200)  # longest a live sample waits for its block to fill
STATUS_PERIOD_MS = const(1000)

# Notifications the BLE controller may still hold when the link drops. gatts_notify has
# no completion event, so the last TX_WINDOW accepted frames are kept and, after a drop,
# re-sent as backlog. Must be >= the controller's queue (NimBLE on ESP32 raises ENOMEM
# after about 8-12 MTU-sized notifications) or a drop can lose frames silently.
TX_WINDOW = const(12)

RING_DIR = "/ring"
RING_SHARE_PCT = const(70)  # of the free flash at boot; littlefs needs headroom to COW
RING_SEG_RECORDS = const(64)  # 64 x 244 B: one segment file fills 4 x 4 KiB blocks
RING_MIN_SEGMENTS = const(3)

POLL_MS = const(80)  # MPU6050/6886: no watermark pin, so the FIFO is polled
WATERMARK_MS = const(100)  # ICM-42688-P: FIFO interrupt about every 100 ms

# Bonding and link security (docs/security.md). The band's USB console is its display:
# each pairing prints a fresh passkey there for the owner to type on the gateway, which
# makes the key authenticated (MITM-protected). False falls back to Just Works: still
# encrypted and bonded, but anyone in range during the pairing window can pair, and an
# active attacker there can sit in the middle.
REQUIRE_MITM = True
PAIR_WINDOW_S = const(120)  # long enough to start `twitchwatch pair` and type a passkey
PAIR_HOLD_S = const(3)  # hold BOOT this long to open the pairing window
CLEAR_HOLD_S = const(10)  # ... this long to forget every bond (factory reset)
MAX_PAIR_FAILURES = const(3)  # failed pairings that close the window: no passkey guessing
MAX_BONDS = const(4)  # centrals remembered; a fifth is refused until bonds are cleared
# An unencrypted or untrusted central is dropped after this long, so that a stranger
# cannot hold the band's only connection (NimBLE stops advertising while connected).
SECURE_TIMEOUT_S = const(10)
PAIR_TIMEOUT_S = const(60)  # inside the window: time to read and type the passkey
BOND_FILE = "/bond/keys"  # littlefs, next to /ring; the ring never touches it
