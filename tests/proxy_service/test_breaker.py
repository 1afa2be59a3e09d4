"""The circuit breaker: opens after N consecutive failures, cools down, probes, recovers."""

from __future__ import annotations

from proxy_service.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, opened: list | None = None) -> CircuitBreaker:
    return CircuitBreaker(3, 10.0, probe_timeout=5.0, clock=clock,
                          on_open=(lambda: opened.append(clock.now)) if opened is not None else (lambda: None))


def test_only_consecutive_failures_open_the_circuit():
    clock = Clock()
    circuit = breaker(clock)
    for _ in range(5):
        circuit.record_failure()
        circuit.record_failure()
        circuit.record_success()
    assert (circuit.state, circuit.allow()) == (CLOSED, True)


def test_the_threshold_opens_it_for_the_cool_down_then_one_probe_goes_through():
    clock, opened = Clock(), []
    circuit = breaker(clock, opened)
    for _ in range(3):
        circuit.record_failure()
    assert opened == [0.0]
    assert (circuit.state, circuit.allow()) == (OPEN, False)
    clock.now = 9.9
    assert not circuit.allow()
    clock.now = 10.0
    assert circuit.state == HALF_OPEN
    assert circuit.allow()
    assert not circuit.allow(), "a second request while the probe is out"
    circuit.record_success()
    assert (circuit.state, circuit.allow(), circuit.allow()) == (CLOSED, True, True)


def test_a_failed_probe_opens_it_for_another_cool_down():
    clock, opened = Clock(), []
    circuit = breaker(clock, opened)
    for _ in range(3):
        circuit.record_failure()
    clock.now = 10.0
    assert circuit.allow()
    circuit.record_failure()
    assert opened == [0.0, 10.0]
    clock.now = 19.9
    assert not circuit.allow()
    clock.now = 20.0
    assert circuit.allow()


def test_a_probe_that_never_reports_is_replaced_after_its_timeout():
    clock = Clock()
    circuit = breaker(clock)
    for _ in range(3):
        circuit.record_failure()
    clock.now = 10.0
    assert circuit.allow()
    clock.now = 14.9
    assert not circuit.allow()
    clock.now = 15.0
    assert circuit.allow()
