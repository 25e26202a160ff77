import json
import os

from stoker.bench._util import Machine, emit, machine
from stoker.system import cpu_count


def test_machine_is_printed_first_and_carried_in_the_json_last_line(capsys) -> None:
    lines: list[str] = []
    host = machine(lines.append)
    assert host.cores == cpu_count() >= 1
    assert len(host.load_avg) == 3 and all(x >= 0 for x in host.load_avg)
    assert lines == [host.describe()] and f"{host.cores} cores" in lines[0] and "load average" in lines[0]
    emit({"figure": 1.5}, host)
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last == {"figure": 1.5, "machine": {"cores": host.cores, "load_avg": list(host.load_avg)}}


def test_describe_names_all_three_load_averages() -> None:
    text = Machine(2, (1.5, 7.25, 20.0)).describe()
    assert text == "machine: 2 cores, load average 1.50 7.25 20.00 (1/5/15 min) at start"


def test_cpu_count_is_what_this_process_may_use() -> None:
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert cpu_count() == expected
