"""The child side of the code sandbox: run untrusted code, then its tests, and report a verdict.

Run by ``code_exec.CodeSandbox`` as a script (``python -I -S -B``: standard library only), never
imported. Arguments: the sandbox directory (holding ``solution.py`` and ``tests.py``), the fd to
read the run's secret nonce from, the fd to report on, the CPU seconds, address-space bytes,
file-size bytes and open-files limits, the entry point's name, and a uid to drop to (-1: none).

Before any untrusted code runs it sets the resource limits, drops root privileges, reads the
nonce (then closes its fd) and installs an audit hook, which cannot be removed later. The hook
ends the process (after reporting ``blocked <event>``) on networking, process creation, signals to
other processes, ctypes, tracing, heap and stack introspection (``gc.get_*``,
``sys._current_frames``), opening anything under /proc, and writing or changing files outside
the sandbox directory. It ends the process rather than raising, so no traceback ever exposes
the hook's frame.

The verdict: the tests are compiled with one more line at their end, which raises the audit
event ``llmgateway.sandbox.passed``; the hook writes ``<nonce> passed`` to the report fd only when
that event comes from a frame running the tests' own code object, at that last line - which the
frame reaches only after every test statement before it ran without an exception. Exiting early
(``sys.exit(0)``, ``os._exit(0)``), printing a marker, writing to the report fd, raising the
event from anywhere else, or replacing ``exec`` / ``sys.audit`` / this script's globals cannot
produce the line: the nonce lives only in the hook's closure (never in argv, the environment, a
global or a frame). Limit: the tests run in the same interpreter as the code, so code written to
defeat them (an object whose ``__eq__`` is always true, say) can still pass; the sandbox keeps
honest mistakes and hostile side effects out of the score, it is not proof against a model
gaming its own tests.
"""

import os
import resource
import stat
import sys

PASSED_EVENT = "llmgateway.sandbox.passed"
_PASSED_LINE = f"__import__('sys').audit({PASSED_EVENT!r})\n"
BLOCKED_EXIT = 86
_DENIED_PREFIXES = (
    "socket.", "urllib.", "http.client.", "ftplib.", "smtplib.", "imaplib.", "poplib.", "nntplib.",
    "telnetlib.", "webbrowser.", "ctypes.", "subprocess.", "os.exec", "os.spawn", "os.posix_spawn",
    "os.fork", "os.system", "os.popen", "os.startfile", "os.kill", "os.killpg", "pty.",
    "signal.pthread_kill", "sys.settrace", "sys.setprofile", "sys._current_frames",
    "sys._current_exceptions", "gc.get_", "winreg.", "msvcrt.", "_winapi.",
)  # fmt: skip
# Events that change the file system: which arguments are paths, and which one is a dir_fd.
_PATH_EVENTS = {
    "os.remove": ((0,), 1), "os.rmdir": ((0,), 1), "os.mkdir": ((0,), 2), "os.chmod": ((0,), 2),
    "os.chown": ((0,), 3), "os.utime": ((0,), 3), "os.rename": ((0, 1), 3), "os.link": ((0, 1), 3),
    "os.symlink": ((1,), 2), "os.truncate": ((0,), None), "os.setxattr": ((0,), None),
    "os.removexattr": ((0,), None), "shutil.rmtree": ((0,), 1), "shutil.copyfile": ((1,), None),
    "shutil.copymode": ((1,), None), "shutil.copystat": ((1,), None), "shutil.chown": ((0,), None),
    "shutil.move": ((0, 1), None),
}  # fmt: skip
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def _set_limits(cpu_s: int, memory: int, file_size: int, open_files: int) -> None:
    for limit, value in (
        (resource.RLIMIT_CPU, cpu_s),
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_FSIZE, file_size),
        (resource.RLIMIT_NOFILE, open_files),
        (resource.RLIMIT_CORE, 0),
    ):
        _, hard = resource.getrlimit(limit)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, value))


def _drop_privileges(root: str, uid: int) -> None:
    """As root, become ``uid`` (nobody) so the code cannot use root's powers; it keeps its directory."""
    if uid < 0:
        return
    os.chown(root, uid, uid)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def _install_guard(root: str, nonce_fd: int, report_fd: int, tests: object, last_line: int) -> None:
    nonce = os.read(nonce_fd, 256).strip()
    os.close(nonce_fd)
    # Everything the hook uses is bound here: later code may replace module attributes.
    write, getframe, exit_now, readlink = os.write, sys._getframe, os._exit, os.readlink
    fspath, join, realpath, af_unix, write_flags = os.fspath, os.path.join, os.path.realpath, 1, _WRITE_FLAGS
    lstat, is_char_device, is_block_device = os.stat, stat.S_ISCHR, stat.S_ISBLK
    denied, path_events, inside = _DENIED_PREFIXES, dict(_PATH_EVENTS), root.rstrip("/") + "/"

    def deny(event: str) -> None:
        try:
            write(report_fd, b"blocked " + event.encode("ascii", "replace") + b"\n")
        finally:
            exit_now(BLOCKED_EXIT)

    def allowed(path: object, dir_fd: object = None) -> bool:
        if isinstance(path, int):
            return True  # an fd: its file was checked when it was opened
        name = fspath(path)  # type: ignore[call-overload]
        name = name.decode("utf-8", "surrogateescape") if isinstance(name, bytes) else name
        if isinstance(dir_fd, int) and not name.startswith("/"):
            name = join(readlink(f"/proc/self/fd/{dir_fd}"), name)
        resolved = realpath(name)
        if resolved == "/dev/null":
            return True
        if not (resolved.startswith(inside) or resolved == root):
            return False
        try:  # as root the code could mknod a disk's device node in its own directory
            mode = lstat(resolved).st_mode
            return not (is_char_device(mode) or is_block_device(mode))
        except OSError:
            return True  # does not exist yet: a new regular file

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event == PASSED_EVENT:
            caller = getframe(1)  # sys.audit is a builtin: frame 1 is the Python code calling it
            if not args and caller.f_code is tests and caller.f_lineno == last_line:
                write(report_fd, nonce + b" passed\n")
        elif event == "open":
            path, mode, flags = args
            name = path if isinstance(path, int) else fspath(path)  # type: ignore[call-overload]
            if isinstance(name, bytes):
                name = name.decode("utf-8", "surrogateescape")
            if isinstance(name, str) and (realpath(name) + "/").startswith("/proc/"):
                deny("open /proc")
            if isinstance(mode, str):
                writes = any(c in mode for c in "wax+")
            else:
                writes = isinstance(flags, int) and bool(flags & write_flags)
            if writes and not allowed(path):
                deny("open for writing outside the sandbox")
        elif event in path_events:
            paths, dir_fd_at = path_events[event]
            dir_fd = args[dir_fd_at] if dir_fd_at is not None else None
            if not all(allowed(args[i], dir_fd) for i in paths):
                deny(event)
        elif event.startswith(denied):
            if event == "socket.__new__" and args[1] == af_unix:
                return  # socketpair() for asyncio's event loop; connect / bind stay denied
            deny(event)

    sys.addaudithook(hook)


def _report(report_fd: int, exc: BaseException) -> None:
    message = f"error {type(exc).__name__}: {str(exc)[:300]}\n"
    os.write(report_fd, message.encode("utf-8", "replace"))


_root, _nonce_fd, _report_fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
_cpu, _memory, _file_size, _open_files = (int(v) for v in sys.argv[4:8])
_entry, _uid = sys.argv[8], int(sys.argv[9])
os.chdir(_root)
with open("solution.py", encoding="utf-8") as _f:
    _solution_source = _f.read()
with open("tests.py", encoding="utf-8") as _f:
    _tests_source = _f.read()
_set_limits(_cpu, _memory, _file_size, _open_files)
_drop_privileges(_root, _uid)
# The tests' last line reports success (see the module's docstring).
_tests_source = _tests_source + "\n" + _PASSED_LINE
_last_line = _tests_source.count("\n")
try:
    _solution = compile(_solution_source, "solution.py", "exec")
    _tests = compile(_tests_source, "tests.py", "exec")
except BaseException as _exc:
    _report(_report_fd, _exc)
    raise
_namespace: dict[str, object] = {"__name__": "solution", "__builtins__": __builtins__}
_install_guard(_root, _nonce_fd, _report_fd, _tests, _last_line)
# From here on untrusted code runs; the verdict depends only on the hook's own checks.
try:
    exec(_solution, _namespace)
    if not callable(_namespace.get(_entry)):
        raise LookupError(f"the code defines no function named {_entry!r}")
    exec(_tests, _namespace)
except BaseException as _exc:
    _report(_report_fd, _exc)
    raise
os._exit(0)  # without waiting for threads the code may have left running
