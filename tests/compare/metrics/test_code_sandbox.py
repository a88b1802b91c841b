"""pass@1's sandbox: right code passes; wrong, hanging, greedy, networked or verdict-faking code fails."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from pathlib import Path

import pytest

from llmgateway.compare.metrics.code_exec import CodeSandbox

TESTS = "assert add(1, 2) == 3\nassert add(-4, 4) == 0\n"
RIGHT = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"


@pytest.fixture
def sandbox() -> CodeSandbox:
    return CodeSandbox(timeout=5.0)


async def test_a_right_function_passes_and_a_wrong_one_fails(sandbox: CodeSandbox) -> None:
    passed = await sandbox.run(f"Here you go:\n```python\n{RIGHT}```\n", TESTS, "add")
    assert passed.passed and passed.reason == "passed" and passed.exit_code == 0
    failed = await sandbox.run(WRONG, TESTS, "add")
    assert not failed.passed and failed.reason.startswith("error AssertionError")
    assert 'tests.py", line 1' in failed.output  # the traceback says which test failed


async def test_syntax_errors_and_missing_functions_fail(sandbox: CodeSandbox) -> None:
    syntax = await sandbox.run("def add(a, b) return a + b", TESTS, "add")
    assert not syntax.passed and syntax.reason.startswith("error SyntaxError")
    missing = await sandbox.run("def plus(a, b):\n    return a + b\n", TESTS, "add")
    assert not missing.passed and "no function named 'add'" in missing.reason


async def test_an_infinite_loop_is_killed_at_the_timeout() -> None:
    sandbox = CodeSandbox(timeout=1.0)
    started = time.monotonic()
    result = await sandbox.run("def add(a, b):\n    while True:\n        pass\n", TESTS, "add")
    assert not result.passed and result.reason == "timeout" and result.exit_code == -9
    assert time.monotonic() - started < 4.0


async def test_a_memory_bomb_fails_within_the_memory_limit(sandbox: CodeSandbox) -> None:
    bomb = "def add(a, b):\n    hog = [0] * (1 << 31)\n    return a + b\n"
    result = await sandbox.run(bomb, TESTS, "add")
    assert not result.passed and "MemoryError" in result.reason


async def test_no_network_and_the_listener_sees_no_connection(sandbox: CodeSandbox) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    attempts = [
        f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n",
        f"import _socket\ns = _socket.socket(2, 1)\ns.connect(('127.0.0.1', {port}))\n",
        f"import urllib.request\nurllib.request.urlopen('http://127.0.0.1:{port}/')\n",
    ]
    try:
        for attempt in attempts:
            result = await sandbox.run(attempt + RIGHT, TESTS, "add")
            assert not result.passed and result.reason.startswith("blocked "), (attempt, result)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


async def test_as_root_the_code_gets_an_empty_network_namespace(sandbox: CodeSandbox) -> None:
    if not await sandbox.network_namespace():
        pytest.skip("unshare -n is not permitted here; the audit hook alone blocks networking")
    probe = RIGHT + "import socket\nassert [n for _, n in socket.if_nameindex()] == ['lo']\n"
    assert (await sandbox.run(probe, TESTS, "add")).passed


async def test_exiting_early_does_not_count_as_passing(sandbox: CodeSandbox) -> None:
    for escape in ("import sys\nsys.exit(0)\n", "import os\nos._exit(0)\n", "raise SystemExit\n"):
        result = await sandbox.run(WRONG + escape, TESTS, "add")
        assert not result.passed and result.exit_code == 0, escape
    during_tests = "import os\ndef add(a, b):\n    os._exit(0)\n"
    assert not (await sandbox.run(during_tests, TESTS, "add")).passed


async def test_the_verdict_cannot_be_forged(sandbox: CodeSandbox) -> None:
    forgeries = {
        "fake report on every fd": "import os\nfor fd in range(3, 64):\n"
        "    try:\n        os.write(fd, b'passed\\n')\n    except OSError:\n        pass\nos._exit(0)\n",
        "the pass event from the code": "import sys\nsys.audit('llmgateway.sandbox.passed')\nsys.exit(0)\n",
        "exec replaced": "import builtins\nbuiltins.exec = lambda *args: None\n",
        "tests replaced": "import sys\nsys.modules['__main__']._tests = compile('pass', 't.py', 'exec')\n",
        "the runner's globals": "import sys, functools\nm = sys.modules['__main__']\n"
        "m._report = functools.partial(sys.audit, 'llmgateway.sandbox.passed')\n",
        "heap search for the nonce": "import gc\nfound = gc.get_objects()\n",
    }
    for name, code in forgeries.items():
        result = await sandbox.run(WRONG + code, TESTS, "add")
        assert not result.passed, (name, result)
    # The entry point itself raising the event, from inside a test line that calls it.
    builtin_call = "import functools, sys\nadd = functools.partial(sys.audit, 'llmgateway.sandbox.passed')\n"
    result = await sandbox.run(builtin_call, "assert add() == 3\n", "add")
    assert not result.passed and result.reason.startswith("error AssertionError")


async def test_files_only_inside_its_own_directory(sandbox: CodeSandbox, tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    outside = f"open({str(target)!r}, 'w').write('x')\n"
    result = await sandbox.run(RIGHT + outside, TESTS, "add")
    assert not result.passed and result.reason == "blocked open for writing outside the sandbox"
    assert not target.exists()
    for code in ("import os\nos.remove('/etc/hostname')\n", "open('/proc/self/mem', 'rb')\n"):
        assert not (await sandbox.run(RIGHT + code, TESTS, "add")).passed, code
    inside = "import tempfile\nwith open('notes.txt', 'w') as f:\n    f.write('ok')\n"
    inside += "with tempfile.TemporaryDirectory() as d:\n    pass\n"
    tests = TESTS + "assert open('notes.txt').read() == 'ok'\n"
    assert (await sandbox.run(RIGHT + inside, tests, "add")).passed


async def test_ordinary_standard_library_code_works(sandbox: CodeSandbox) -> None:
    code = (
        "import asyncio, collections, threading, json\n"
        "Pair = collections.namedtuple('Pair', 'a b')\n"
        "async def total(p):\n    return p.a + p.b\n"
        "def add(a, b):\n    threading.Thread(target=lambda: None).start()\n"
        "    return json.loads(json.dumps(asyncio.run(total(Pair(a, b)))))\n"
    )
    assert (await sandbox.run(code, TESTS, "add")).passed


async def test_output_is_capped() -> None:
    sandbox = CodeSandbox(timeout=5.0, max_output_bytes=1000)
    result = await sandbox.run("print('x' * 10_000_000)\n" + RIGHT, TESTS, "add")
    assert result.passed and len(result.output) == 1000


async def test_cancelling_a_run_kills_its_process() -> None:
    marker = f"add_{uuid.uuid4().hex}"  # the entry point's name is on the child's command line
    run = asyncio.ensure_future(CodeSandbox(timeout=30).run("while True:\n    pass\n", TESTS, marker))
    await asyncio.sleep(0.5)
    assert _processes_mentioning(marker)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert not _processes_mentioning(marker)


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if text.encode() in Path("/proc", entry, "cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                continue
    return found
