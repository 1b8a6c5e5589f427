"""Ctrl-C held while escucha writes or cleans up (escucha.longaudio.interrupts), with real signals."""
from __future__ import annotations

import os
import signal
import time

import pytest

from escucha.longaudio.interrupts import interrupts_deferred


def _ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)   # the handler runs in the main thread between bytecodes


def test_held_until_the_block_is_done():
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            _ctrl_c()
            steps.append("written whole")
    assert steps == ["written whole"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_first_acts_at_once_and_a_second_does_not_cut_the_clean_up_short():
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred(first_acts=True):
            try:
                _ctrl_c()
                steps.append("not reached")
            finally:
                _ctrl_c()   # an impatient second press, during the clean-up
                steps.append("cleaned up")
    assert steps == ["cleaned up"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_first_acts_a_held_one_acts_when_the_block_ends_normally():
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred(first_acts=True):
            try:
                _ctrl_c()
            except KeyboardInterrupt:
                steps.append("stopping")
            _ctrl_c()       # held: the block finishes its work first
            steps.append("finished")
    assert steps == ["stopping", "finished"]


def test_nothing_pressed_nothing_raised():
    with interrupts_deferred(first_acts=True):
        with interrupts_deferred():
            pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
