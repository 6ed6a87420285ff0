"""Ctrl-C inside a store connection, in this process: a key press something swallowed still ends the block with
KeyboardInterrupt, and a program's own SIGINT handler is left alone. (DuckDB's own ways of taking a key press are
pressed for real in ``test_store_crash.py`` and ``tests/usage/test_usage_sql.py``.)"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from closeframe.store.database import connect


def _press_ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)  # Python runs the handler right after this call returns


def test_a_key_press_swallowed_inside_a_connection_ends_it_with_keyboard_interrupt(tmp_path):
    reached_the_end = False
    with pytest.raises(KeyboardInterrupt):
        with connect(tmp_path) as connection:
            try:  # what DuckDB does now and then: the KeyboardInterrupt is dropped and the statement finishes
                _press_ctrl_c()
            except KeyboardInterrupt:
                pass
            connection.execute("SELECT 1").fetchall()
            reached_the_end = True
    assert reached_the_end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Python's handler is back
    with connect(tmp_path) as connection:  # and the store is fine
        assert connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchall()


def test_a_programs_own_sigint_handler_is_kept_and_decides(tmp_path):
    presses = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: presses.append(signum))
    try:
        with connect(tmp_path) as connection:
            _press_ctrl_c()
            assert connection.execute("SELECT 42").fetchall() == [(42,)]
        assert presses == [signal.SIGINT]  # handled the program's way: no KeyboardInterrupt
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_connection_in_another_thread_leaves_the_signal_handler_alone(tmp_path):
    seen = []

    def work():
        with connect(tmp_path) as connection:
            seen.append(signal.getsignal(signal.SIGINT))
            connection.execute("SELECT 1").fetchall()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]
