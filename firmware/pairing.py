# Who may bond with the band, and which link is trusted (docs/security.md).
#
# The band has no display and no keys, so it offers Passkey Entry with its USB console as
# the display: each pairing gets a fresh random 6-digit passkey, printed there, that the
# owner types into the gateway's Bluetooth agent. That gives an authenticated
# (MITM-protected) LE Secure Connections key. Pairing is only possible inside a pairing
# window: open at boot while the band has no bond, or for PAIR_WINDOW_S after BOOT is held
# PAIR_HOLD_S; it closes at the first new bond, on time-out, or after MAX_PAIR_FAILURES
# failed attempts. Holding BOOT CLEAR_HOLD_S forgets every bond (factory reset).
#
# A link is trusted when _IRQ_ENCRYPTION_UPDATE says encrypted, bonded, 16-byte key and
# (with REQUIRE_MITM) authenticated, and - when that encryption came from a pairing on this
# very link - the window was open and the bond could be stored. Only a trusted link gets
# notifications and control writes. The on_* methods run in the BLE IRQ and only record;
# service() runs in the band's task and acts (passkey, commit, disconnect, flash).
import os
import time

from micropython import const

IO_DISPLAY_ONLY = const(0)
IO_NO_INPUT_OUTPUT = const(3)
_PASSKEY_DISPLAY = const(3)
_PASSKEY_NUMCMP = const(4)
_KEY_SIZE = const(16)


def say(msg):
    """One line on the USB console (the band's only display)."""
    print("twitchwatch:", msg)


def _passkey():
    return int.from_bytes(os.urandom(4), "little") % 1_000_000


class Security:
    def __init__(self, store, cfg):
        self.store = store
        self.require_mitm = cfg.REQUIRE_MITM
        self.window_ms = cfg.PAIR_WINDOW_S * 1000
        self.max_failures = cfg.MAX_PAIR_FAILURES
        self.pair_hold_s = cfg.PAIR_HOLD_S
        self.clear_hold_s = cfg.CLEAR_HOLD_S
        self.secure_timeout_ms = cfg.SECURE_TIMEOUT_S * 1000
        self.pair_timeout_ms = cfg.PAIR_TIMEOUT_S * 1000
        self.ble = None  # set by the link once the stack is up
        self.conn = -1
        self.trusted = False
        self.connected_ms = 0
        self.window = False
        self.window_end = 0
        self.failures = 0  # failed pairings in the current window
        self._held_s = 0
        self._pk_conn = -1  # a passkey action to answer
        self._pk_action = 0
        self._enc = None  # the last ENCRYPTION_UPDATE to act on
        self._save_failed = False
        # counters, for the status and the tests
        self.bonds_made = 0
        self.pairings_refused = 0
        self.pairings_failed = 0
        self.untrusted_dropped = 0
        if store.damaged:
            say("bond store unreadable: starting without bonds")
        if store.peers() == 0:
            self.open_window("no bond yet")

    # --- pairing window ----------------------------------------------------------------

    def window_open(self):
        return self.window and time.ticks_diff(self.window_end, time.ticks_ms()) > 0

    def open_window(self, why):
        self.window = True
        self.window_end = time.ticks_add(time.ticks_ms(), self.window_ms)
        self.failures = 0
        say("pairing window open for %d s (%s)" % (self.window_ms // 1000, why))

    def close_window(self, why):
        if self.window:
            self.window = False
            say("pairing window closed (%s)" % why)

    # --- BLE IRQ side: record, decide trust, nothing else ------------------------------

    def on_connect(self, conn):
        self.conn = conn
        self.trusted = False
        self.connected_ms = time.ticks_ms()
        self.store.rollback()

    def on_disconnect(self, conn):
        if conn == self.conn:
            self.conn = -1
            self.trusted = False
            self._pk_conn = -1
            self.store.rollback()

    def on_passkey(self, conn, action, _number):
        self._pk_conn = conn
        self._pk_action = action

    def on_encryption(self, conn, encrypted, authenticated, bonded, key_size):
        if conn != self.conn:
            return
        ok = (encrypted and bonded and key_size >= _KEY_SIZE
              and (authenticated or not self.require_mitm))
        if ok and self.store.in_flux():  # keys were written on this link: a new pairing
            ok = self.window_open() and not self.store.full
        self.trusted = bool(ok)
        self._enc = (encrypted, authenticated, bonded, key_size)

    # --- the band's task ---------------------------------------------------------------

    def service(self):
        """Act on what the IRQs recorded, run the timers, persist. Cheap when idle."""
        if self._pk_conn >= 0:
            self._answer_passkey()
        if self._enc is not None:
            self._settle()
        now = time.ticks_ms()
        if self.window and time.ticks_diff(now, self.window_end) >= 0:
            self.close_window("time is up")
        if self.conn >= 0 and not self.trusted:
            limit = self.pair_timeout_ms if self.window_open() else self.secure_timeout_ms
            if time.ticks_diff(now, self.connected_ms) > limit:
                self.untrusted_dropped += 1
                say("dropping a central that did not secure the link in %d s" % (limit // 1000))
                self._disconnect()
        self._save()

    def _answer_passkey(self):
        conn, action = self._pk_conn, self._pk_action
        self._pk_conn = -1
        if conn != self.conn:
            return
        if action == _PASSKEY_DISPLAY and self.window_open():
            pk = _passkey()
            say("pairing: passkey %06d - type it on the gateway" % pk)
            self.ble.gap_passkey(conn, action, pk)
            return
        self.pairings_refused += 1
        if action == _PASSKEY_NUMCMP:
            self.ble.gap_passkey(conn, action, 0)  # 0: the numbers do not match
        say("pairing refused: " + ("the pairing window is closed" if not self.window_open()
                                   else "passkey action %d not offered" % action))
        self._disconnect()

    def _settle(self):
        encrypted, authenticated, bonded, key_size = self._enc
        self._enc = None
        store = self.store
        if self.trusted:
            if store.in_flux():
                store.commit()
                self.bonds_made += 1
                say("bonded with a new central (%d of %d bonds)"
                    % (store.peers(), store.max_peers))
                self.close_window("bonded")
            return
        pairing = store.in_flux()
        if not encrypted:
            why = "pairing failed"
        elif pairing and store.full:
            why = "bond store full (%d): clear the bonds to add one" % store.max_peers
        elif pairing and not self.window_open():
            why = "pairing outside the pairing window"
        elif self.require_mitm and not authenticated:
            why = "key not authenticated (Just Works): pair with the passkey"
        elif not bonded:
            why = "the central did not bond"
        else:
            why = "key size %d" % key_size
        store.rollback()
        if pairing or not encrypted:
            self.pairings_failed += 1
            if self.window_open():
                self.failures += 1
                if self.failures >= self.max_failures:
                    self.close_window("%d failed pairings" % self.failures)
        say("link not trusted: " + why)
        if encrypted or pairing:
            self._disconnect()

    def button(self, pressed):
        """The BOOT button, polled once a second."""
        if not pressed:
            self._held_s = 0
            return
        self._held_s += 1
        if self._held_s == self.pair_hold_s:
            self.open_window("BOOT held")
        elif self._held_s == self.clear_hold_s:
            self.store.clear_peers()
            self.trusted = False
            say("all bonds cleared (BOOT held %d s)" % self.clear_hold_s)
            self._disconnect()
            self.open_window("bonds cleared")

    def _disconnect(self):
        if self.conn < 0 or self.ble is None:
            return
        try:
            self.ble.gap_disconnect(self.conn)
        except OSError:
            pass  # already gone: the disconnect IRQ follows

    def _save(self):
        try:
            if self.store.save():
                self._save_failed = False
        except OSError as e:
            if not self._save_failed:
                self._save_failed = True
                say("cannot save the bonds (%s): kept in RAM, retrying" % e)
