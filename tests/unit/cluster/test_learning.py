"""What the shared learning path (live controller and simulator) learns from reports and from moves."""

from __future__ import annotations

from stoker.cluster.learning import CurveBook, JobReport, flat_from
from stoker.cluster.moves import MoveRules
from tests.common.state import run_test_save_load_state

GRID = (1, 2, 3, 4, 6, 8)
RULES = MoveRules(cooldown=10)


def report(workers: float, tput: float, wait: float = 0.8, name: str = "j") -> JobReport:
    return JobReport(name, "a", 1.0, tput, wait, workers)


def feed(book: CurveBook, workers: float, tputs: list[float], name: str = "j") -> None:
    for y in tputs:
        book.learn(report(workers, y, name=name))


def test_data_wait_alone_promises_more_from_more_workers() -> None:
    book = CurveBook(GRID, moves=RULES)
    feed(book, 1, [100, 100, 101, 99])
    c = book.curve("j")
    assert c(2) > 1.5 * c(1)  # waits 80 % of the time: peak ~500 samples/s


def test_a_worker_that_raised_nothing_makes_the_curve_flat_from_the_previous_count() -> None:
    book = CurveBook(GRID, moves=RULES)
    feed(book, 1, [100, 100, 101, 99])
    feed(book, 2, [60, 99, 101, 100])  # waits on data still: its trainer is what is slow
    c = book.curve("j")
    assert c(2) == c(8) == c(1) == c.peak
    assert c.next_breakpoint(1.0) is None  # nothing above 1 worker for a policy to hand out


def test_a_worker_that_paid_leaves_the_curve_rising() -> None:
    book = CurveBook(GRID, moves=RULES)
    feed(book, 1, [100, 100, 101, 99])
    feed(book, 2, [60, 190, 195, 192])
    c = book.curve("j")
    assert c(3) > c(2) > c(1)


def test_taking_a_worker_that_cost_nothing_makes_the_curve_flat_from_the_lower_count() -> None:
    book = CurveBook(GRID, moves=RULES)
    feed(book, 3, [300, 300, 301, 299])
    feed(book, 2, [250, 300, 301, 300])
    c = book.curve("j")
    assert c(3) == c(2) and c(4) == c(2)
    assert c(1) < c(2)  # below it the curve still falls: the floor is not given away


def test_the_flat_part_expires_and_a_refuted_job_waits_longer_each_time() -> None:
    book = CurveBook(GRID, moves=RULES)
    feed(book, 1, [100, 100, 101, 99])
    feed(book, 2, [60, 99, 101, 100])  # flat from 1 for 10 reports
    feed(book, 2, [100])  # the first report after the verdict, still at 2
    feed(book, 1, [100, 100, 99, 101])  # back at 1: the same verdict, no new strike
    assert book.flats["j"].strikes == 0
    feed(book, 1, [100] * 5)  # 10 learned reports after the verdict
    assert book.curve("j")(2) > 150  # expired: offered more again
    feed(book, 2, [60, 99, 101, 100])
    assert book.flats["j"].strikes == 1 and book.flats["j"].until - book.seen["j"] == 20
    assert book.curve("j")(2) == book.curve("j")(1)


def test_a_flat_curve_is_the_same_object_until_the_job_learns_more() -> None:
    book = CurveBook(GRID, moves=RULES)
    feed(book, 1, [100, 100, 101, 99])
    feed(book, 2, [60, 99, 101, 100])
    assert book.curve("j") is book.curve("j")  # the simulator rebuilds a job's record only on a new curve


def test_flat_from_keeps_the_curve_below_the_point() -> None:
    book = CurveBook(GRID, moves=RULES)
    feed(book, 2, [200, 200])
    learned = book.curve("j")
    c = flat_from(learned, 2.5)
    assert c(1) == learned(1) and c(2.5) == learned(2.5) and c(6) == learned(2.5)


def test_forget_drops_what_a_job_taught() -> None:
    book = CurveBook(GRID, moves=RULES)
    feed(book, 1, [100, 100, 101, 99])
    feed(book, 2, [60, 99, 101, 100])
    book.forget("j")
    assert not (book.learners or book.tracks or book.flats or book.seen)


def test_the_book_round_trips_its_state_mid_move_and_while_flat() -> None:
    stream = [(1, 100), (1, 100), (1, 101), (1, 99), (2, 60), (2, 99), (2, 101), (2, 100), (2, 100), (1, 100)]
    stream += [(1, 100)] * 12 + [(2, 60), (2, 150)]

    class Driver:
        def __init__(self) -> None:
            self.book, self.k = CurveBook(GRID, moves=RULES), 0

        def state_dict(self) -> dict:
            return {"book": self.book.state_dict(), "k": self.k}

        def load_state_dict(self, s: dict) -> None:
            self.book.load_state_dict(s["book"])
            self.k = s["k"]

    def advance(d: Driver) -> tuple[float, ...]:
        w, y = stream[d.k]
        d.k += 1
        d.book.learn(report(w, y))
        return d.book.curve("j").ys

    run_test_save_load_state(Driver, advance, len(stream), checkpoints=(0, 5, 7, 9, 14, len(stream) - 1))


def test_a_state_saved_before_moves_were_judged_loads() -> None:
    book = CurveBook(GRID, moves=RULES)
    feed(book, 1, [100, 100])
    old = book.state_dict()
    for key in ("seen", "tracks", "flats"):
        del old[key]
    again = CurveBook(GRID, moves=RULES)
    again.load_state_dict(old)
    assert again.curve("j") == book.curve("j")


def test_a_rise_under_trial_is_not_followed_by_another_before_its_verdict() -> None:
    book = CurveBook(GRID, moves=RULES)
    feed(book, 1, [100, 100, 101, 99])
    feed(book, 2, [60, 180])  # two of the four reports a verdict needs
    c = book.curve("j")
    assert c.next_breakpoint(2.0) is None and c(2) > c(1)  # flat from 2 while 2 is judged
    feed(book, 2, [190, 185])  # judged: it paid
    assert book.curve("j")(3) > book.curve("j")(2)


def test_a_rise_lost_in_noise_did_not_matter() -> None:
    book = CurveBook(GRID, moves=RULES)
    feed(book, 1, [100, 100, 101, 99])
    feed(book, 2, [60, 60, 180, 100])  # mean 113 within a spread of +-60: cannot tell, so no gain shown
    assert book.curve("j")(2) == book.curve("j")(1)


def test_a_rise_that_paid_for_the_job_but_cost_its_node_more_did_not_matter() -> None:
    """Shared cores: the job's second worker takes CPU from the other job on its node."""

    def round_(book: CurveBook, jw: float, jt: float, kt: float) -> None:
        book.learn(report(jw, jt, name="j"))
        book.learn(report(1, kt, name="k"))

    for pays_node in (False, True):
        book = CurveBook(GRID, moves=RULES)
        for _ in range(6):
            round_(book, 1, 100, 200)
        round_(book, 2, 80, 150)  # the transition
        for _ in range(3):
            round_(book, 2, 130, 190 if pays_node else 100)  # j +30 %; k -5 % or -50 %
        c = book.curve("j")
        assert (c(2) > c(1)) is pays_node


def test_a_rise_refuted_by_its_node_stays_refuted_when_the_cut_back_costs_the_job() -> None:
    book = CurveBook(GRID, moves=RULES)
    for _ in range(6):
        book.learn(report(1, 100, name="j"))
        book.learn(report(1, 200, name="k"))
    for jt, kt in [(80, 150), (130, 100), (130, 100), (130, 100)]:  # j +30 %, k -50 %: refuted
        book.learn(report(2, jt, name="j"))
        book.learn(report(1, kt, name="k"))
    for jt, kt in [(110, 180), (100, 200), (100, 200), (100, 200)]:  # back to 1: j loses its 30 %
        book.learn(report(1, jt, name="j"))
        book.learn(report(1, kt, name="k"))
    c = book.curve("j")
    assert c(2) == c(1) and book.flats["j"].x == 1.0
